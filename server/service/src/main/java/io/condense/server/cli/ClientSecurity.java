package io.condense.server.cli;

import static java.util.Objects.requireNonNull;

import java.nio.file.Path;
import java.util.Optional;

/**
 * How the Java client reaches a server: TLS trusting a CA, a client certificate for mutual TLS, a bearer token.
 * {@link #NONE}: plaintext, no token (a server on loopback).
 */
public record ClientSecurity(Optional<Path> tlsCa, Optional<Path> tlsCertificate, Optional<Path> tlsKey, Optional<String> token) {
    public static final ClientSecurity NONE = new ClientSecurity(Optional.empty(), Optional.empty(), Optional.empty(), Optional.empty());

    public ClientSecurity {
        requireNonNull(tlsCa, "tlsCa is null");
        requireNonNull(tlsCertificate, "tlsCertificate is null");
        requireNonNull(tlsKey, "tlsKey is null");
        requireNonNull(token, "token is null");
        if (tlsCertificate.isPresent() != tlsKey.isPresent()) {
            throw new IllegalArgumentException("--tls-cert and --tls-key go together");
        }
        if (tlsCertificate.isPresent() && tlsCa.isEmpty()) {
            throw new IllegalArgumentException("--tls-cert (mutual TLS) needs --tls-ca: the CA of the server's certificate");
        }
    }

    public static ClientSecurity token(String token) {
        return new ClientSecurity(Optional.empty(), Optional.empty(), Optional.empty(), Optional.of(token));
    }
}
