package io.condense.server.security;

import static java.util.Objects.requireNonNull;

import java.nio.file.Path;
import java.util.Optional;

/**
 * How the gRPC API admits callers: TLS (a certificate chain and its private key, PEM), mutual TLS (also the CA that
 * client certificates must chain to), bearer tokens (a tokens file of hashes and tenants, see {@link TokenAuthenticator}).
 * Each is independent; none of them is plaintext open to anyone, which is only safe on loopback. Server reflection can
 * be turned off.
 */
public record ApiSecurity(Optional<Path> tlsCertificate, Optional<Path> tlsKey, Optional<Path> tlsClientCa, Optional<Path> authTokens,
        boolean reflection) {
    public static final ApiSecurity NONE = new ApiSecurity(Optional.empty(), Optional.empty(), Optional.empty(), Optional.empty());

    /** With server reflection on (it describes the API, not data). */
    public ApiSecurity(Optional<Path> tlsCertificate, Optional<Path> tlsKey, Optional<Path> tlsClientCa, Optional<Path> authTokens) {
        this(tlsCertificate, tlsKey, tlsClientCa, authTokens, true);
    }

    public ApiSecurity withoutReflection() {
        return new ApiSecurity(tlsCertificate, tlsKey, tlsClientCa, authTokens, false);
    }

    public ApiSecurity {
        requireNonNull(tlsCertificate, "tlsCertificate is null");
        requireNonNull(tlsKey, "tlsKey is null");
        requireNonNull(tlsClientCa, "tlsClientCa is null");
        requireNonNull(authTokens, "authTokens is null");
        if (tlsCertificate.isPresent() != tlsKey.isPresent()) {
            throw new IllegalArgumentException("--tls-cert and --tls-key go together: the certificate chain and its private key");
        }
        if (tlsClientCa.isPresent() && tlsCertificate.isEmpty()) {
            throw new IllegalArgumentException("--tls-client-ca (mutual TLS) needs --tls-cert and --tls-key: the server's own certificate");
        }
    }

    public boolean tls() {
        return tlsCertificate.isPresent();
    }
}
