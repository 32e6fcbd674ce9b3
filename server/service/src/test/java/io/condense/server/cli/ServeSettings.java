package io.condense.server.cli;

import io.condense.server.platform.Role;
import io.condense.server.security.ApiSecurity;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import picocli.CommandLine;
import picocli.CommandLine.Model.OptionSpec;

/**
 * A {@code condense serve} command line as the real {@link ServeCommand} reads it: parsed by picocli with the command's
 * own spec, so an option the command does not have, a missing value or a value its type refuses is an error here
 * exactly as it is for the server.
 *
 * @param files the files the command reads at start, by option ({@code --tls-cert}, {@code --auth-tokens}, ...)
 */
public record ServeSettings(Role role, String host, int grpcPort, int metricsPort, Optional<String> kafkaBootstrap, Map<String, Path> files,
        boolean instanceIdGiven, boolean reflection) {

    /** A command line {@code serve} refuses; {@code offending} is the argument to point at (null when none is). */
    public static final class RefusedException extends IllegalArgumentException {
        private final String offending;

        RefusedException(String message, String offending) {
            super(message);
            this.offending = offending;
        }

        public String offending() {
            return offending;
        }
    }

    /** Parses the arguments after {@code serve}. */
    public static ServeSettings parse(List<String> arguments) {
        ServeCommand command = new ServeCommand();
        try {
            new CommandLine(command).parseArgs(arguments.toArray(String[]::new));
        } catch (CommandLine.UnmatchedArgumentException e) {
            throw new RefusedException(e.getMessage(), e.getUnmatched().isEmpty() ? null : e.getUnmatched().get(0));
        } catch (CommandLine.MissingParameterException e) {
            throw new RefusedException(e.getMessage(), e.getMissing().stream().filter(OptionSpec.class::isInstance)
                    .map(option -> ((OptionSpec) option).longestName()).findFirst().orElse(null));
        } catch (CommandLine.ParameterException e) {
            String offending = e.getValue() != null ? e.getValue()
                    : e.getArgSpec() instanceof OptionSpec option ? option.longestName() : null;
            throw new RefusedException(e.getMessage(), offending);
        }
        Role role;
        try {
            role = Role.valueOf(command.role.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            // ServeCommand checks the role when it runs, not when it parses: the same words here
            throw new RefusedException("Unknown role '" + command.role + "': use all, api or worker", command.role);
        }
        // what ServeCommand refuses before starting anything, by the same rules
        try {
            new ApiSecurity(Optional.ofNullable(command.tlsCertificate), Optional.ofNullable(command.tlsKey),
                    Optional.ofNullable(command.tlsClientCa), Optional.ofNullable(command.authTokens));
        } catch (IllegalArgumentException e) {
            throw new RefusedException(e.getMessage(), "--tls-");
        }
        if (command.kafkaPort != 0 && command.kafkaBootstrap != null) {
            throw new RefusedException("--kafka-port sets the embedded broker's port; with --kafka-bootstrap there is none", "--kafka-port");
        }
        Map<String, Path> files = new LinkedHashMap<>();
        putIfGiven(files, "--tls-cert", command.tlsCertificate);
        putIfGiven(files, "--tls-key", command.tlsKey);
        putIfGiven(files, "--tls-client-ca", command.tlsClientCa);
        putIfGiven(files, "--auth-tokens", command.authTokens);
        putIfGiven(files, "--kafka-config", command.kafkaConfig);
        return new ServeSettings(role, command.host, command.grpcPort, command.metricsPort, Optional.ofNullable(command.kafkaBootstrap),
                Map.copyOf(files), command.instanceId != null, !command.noReflection);
    }

    private static void putIfGiven(Map<String, Path> files, String option, Path file) {
        if (file != null) {
            files.put(option, file);
        }
    }

    public boolean tls() {
        return files.containsKey("--tls-cert");
    }

    public boolean tokens() {
        return files.containsKey("--auth-tokens");
    }

    /** Whether the gRPC API (and its port) is served by this process. */
    public boolean servesApi() {
        return role.runsApi();
    }

    /** Whether it listens on more than this machine's loopback. */
    public boolean listensBeyondLoopback() {
        return !(host.equals("127.0.0.1") || host.equals("localhost") || host.equals("::1"));
    }
}
