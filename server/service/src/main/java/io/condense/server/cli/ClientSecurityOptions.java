package io.condense.server.cli;

import java.nio.file.Path;
import java.util.Optional;
import picocli.CommandLine.Option;

/** How a command reaches a server that wants TLS, a client certificate or a bearer token. */
final class ClientSecurityOptions {
    @Option(names = "--tls-ca", paramLabel = "CA.pem", description = "Speak TLS, trusting server certificates signed by this CA (PEM).")
    Path tlsCa;

    @Option(names = "--tls-cert", paramLabel = "CERT.pem", description = "This client's certificate chain, for servers that ask for one (mutual TLS); needs --tls-key and --tls-ca.")
    Path tlsCertificate;

    @Option(names = "--tls-key", paramLabel = "KEY.pem", description = "The private key of --tls-cert (PKCS#8 PEM).")
    Path tlsKey;

    @Option(names = "--token", paramLabel = "TOKEN", description = "Bearer token for servers that ask for one (default: the CONDENSE_TOKEN environment variable).")
    String token;

    ClientSecurity security() {
        Optional<String> bearer = Optional.ofNullable(token).or(() -> Optional.ofNullable(System.getenv("CONDENSE_TOKEN")))
                .filter(value -> !value.isBlank());
        return new ClientSecurity(Optional.ofNullable(tlsCa), Optional.ofNullable(tlsCertificate), Optional.ofNullable(tlsKey), bearer);
    }
}
