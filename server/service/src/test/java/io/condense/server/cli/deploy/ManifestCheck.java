package io.condense.server.cli.deploy;

import io.condense.server.cli.ServeSettings;
import io.condense.server.platform.Role;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Locale;
import java.util.List;
import java.util.Optional;

/** What a manifest owes every {@code condense serve} it runs; each problem names the manifest's file and line. */
final class ManifestCheck {

    private ManifestCheck() {
    }

    static List<String> problems(List<ServeContainer> containers) {
        List<String> problems = new ArrayList<>();
        containers.forEach(container -> problems.addAll(problems(container)));
        return problems;
    }

    static List<String> problems(ServeContainer container) {
        ServeSettings settings;
        try {
            settings = ServeSettings.parse(container.arguments().stream().map(ServeContainer.Argument::value).toList());
        } catch (ServeSettings.RefusedException e) {
            return List.of(container.at(lineOf(container, e.offending())) + ": `condense serve` refuses its arguments: " + e.getMessage());
        }
        List<String> problems = new ArrayList<>();
        exposure(container, settings, problems);
        identity(container, settings, problems);
        if (container.workload().orchestrated()) {
            files(container, settings, problems);
            probes(container, settings, problems);
            if (!container.resourcesSet()) {
                problems.add(container.at(container.line()) + ": no memory request and limit: the scheduler places it by them, the "
                        + "JVM sizes its heap from the limit, and a worker's models and training need a known amount");
            }
            if (!container.workload().restartsOnExit()) {
                problems.add(container.at(container.line()) + ": nothing restarts it, but `condense serve` exits (code 70) when a part "
                        + "of it cannot come back, to be restarted: set a restart policy");
            }
        }
        return problems;
    }

    private static void exposure(ServeContainer container, ServeSettings settings, List<String> problems) {
        if (!settings.servesApi() || !settings.listensBeyondLoopback()) {
            return;
        }
        if (!settings.tls()) {
            problems.add(container.at(lineOf(container, "--host")) + ": serves gRPC on " + settings.host() + " in plaintext: "
                    + "give --tls-cert and --tls-key (from a Secret)");
        }
        if (!settings.tokens()) {
            problems.add(container.at(lineOf(container, "--host")) + ": serves gRPC on " + settings.host() + " without --auth-tokens: "
                    + "anyone who reaches the port can submit, read and download every job");
        }
        if (settings.grpcPort() == settings.metricsPort()) {
            problems.add(container.at(lineOf(container, "--metrics-port")) + ": gRPC and metrics on the same port " + settings.grpcPort());
        }
    }

    private static void identity(ServeContainer container, ServeSettings settings, List<String> problems) {
        ServeContainer.Workload workload = container.workload();
        if (settings.kafkaBootstrap().isEmpty() && (settings.role() != Role.ALL || workload.replicas() > 1)) {
            problems.add(container.at(container.line()) + ": no --kafka-bootstrap: each process starts an embedded broker of its "
                    + "own, so its jobs reach no other API or worker; give the cluster's bootstrap servers");
        }
        if (settings.instanceIdGiven() && (workload.replicas() > 1 || workload.kind().equals("Deployment"))) {
            problems.add(container.at(lineOf(container, "--instance-id")) + ": --instance-id on a " + workload.kind() + " of "
                    + workload.replicas() + " replica(s): every replica (and the new pod of a rolling update) claims the same id "
                    + "and the second refuses to start; leave it out, every process makes a unique id by default");
        }
    }

    private static void files(ServeContainer container, ServeSettings settings, List<String> problems) {
        settings.files().forEach((option, file) -> {
            String at = container.at(lineOf(container, option)) + ": " + option + " " + file;
            Optional<ServeContainer.Mount> mount = container.mounts().stream()
                    .filter(candidate -> file.startsWith(Path.of(candidate.path())))
                    .max(Comparator.comparingInt(candidate -> candidate.path().length()));
            if (mount.isEmpty()) {
                problems.add(at + ": no volume is mounted there, the process would not start");
            } else if (!mount.get().secret()) {
                problems.add(at + ": comes from " + mount.get().source() + ", not a Secret");
            } else if (!mount.get().files().isEmpty() && !file.equals(Path.of(mount.get().path()))
                    && !mount.get().files().contains(Path.of(mount.get().path()).relativize(file).toString())) {
                problems.add(at + ": " + mount.get().source() + " mounted at " + mount.get().path() + " holds only "
                        + mount.get().files());
            }
        });
    }

    private static void probes(ServeContainer container, ServeSettings settings, List<String> problems) {
        for (String required : container.workload().requiredProbes()) {
            if (container.probes().stream().noneMatch(probe -> probe.purpose().equals(required))) {
                problems.add(container.at(container.line()) + ": no " + required + (settings.servesApi()
                        ? " (gRPC health on port " + settings.grpcPort() + ", or GET /health on the metrics port " + settings.metricsPort() + ")"
                        : " (GET /health on the metrics port " + settings.metricsPort() + ")"));
            }
        }
        for (ServeContainer.Probe probe : container.probes()) {
            String at = container.at(probe.line()) + ": " + probe.purpose();
            switch (probe.type()) {
                case "grpc" -> {
                    if (!settings.servesApi()) {
                        problems.add(at + " asks gRPC health, but a " + settings.role().name().toLowerCase(Locale.ROOT)
                                + " serves no gRPC: probe GET /health on the metrics port " + settings.metricsPort());
                    } else if (!probe.port().equals(Integer.toString(settings.grpcPort()))) {
                        problems.add(at + " probes port " + probe.port() + " but gRPC is on " + settings.grpcPort()
                                + " (a grpc probe takes a port number, not a name)");
                    } else if (settings.tls()) {
                        problems.add(at + " asks gRPC health in plaintext, but this server serves TLS only: probe GET /health on the "
                                + "metrics port " + settings.metricsPort());
                    }
                }
                case "http" -> {
                    if (!"/health".equals(probe.path()) || !probe.port().equals(Integer.toString(settings.metricsPort()))) {
                        problems.add(at + " asks GET " + probe.path() + " on port " + probe.port() + ": health is GET /health on the "
                                + "metrics port " + settings.metricsPort());
                    }
                }
                default -> problems.add(at + " is a " + probe.type() + " probe, which cannot tell NOT_SERVING from SERVING: ask gRPC "
                        + "health or GET /health on the metrics port");
            }
        }
    }

    /** The line of the first argument that is or starts with {@code text}: an option's, or the container's. */
    private static int lineOf(ServeContainer container, String text) {
        if (text == null) {
            return container.line();
        }
        return container.arguments().stream().filter(argument -> argument.value().equals(text))
                .findFirst()
                .or(() -> container.arguments().stream().filter(argument -> argument.value().startsWith(text)).findFirst())
                .map(ServeContainer.Argument::line)
                .orElse(container.line());
    }
}
