package io.condense.server.cli.deploy;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.IntFunction;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** The {@code condense serve} containers of Kubernetes manifests (Deployments, StatefulSets and the like). */
final class KubernetesManifests {
    private static final Set<String> WORKLOADS = Set.of("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet");
    private static final List<String> PROBES = List.of("readinessProbe", "livenessProbe", "startupProbe");
    /** Kubernetes expands $(NAME) in args from the container's env. */
    private static final Pattern VARIABLE = Pattern.compile("\\$\\(([A-Za-z_][A-Za-z0-9_]*)\\)");

    private KubernetesManifests() {
    }

    /** @param where names a line of the stream, for problems */
    static List<ServeContainer> containers(String yaml, IntFunction<String> where) {
        List<ServeContainer> containers = new ArrayList<>();
        for (YamlNode document : YamlNode.documents(yaml)) {
            String kind = document.text("kind");
            Optional<YamlNode> podSpec = document.at("spec", "template", "spec");
            if (kind == null || !WORKLOADS.contains(kind) || podSpec.isEmpty()) {
                continue;
            }
            String replicas = document.at("spec", "replicas").map(YamlNode::text).orElse("1");
            ServeContainer.Workload workload = new ServeContainer.Workload(kind, document.at("metadata", "name").map(YamlNode::text).orElse("?"),
                    Integer.parseInt(replicas), true, true, List.of("readinessProbe", "livenessProbe"));
            Map<String, YamlNode> volumes = new HashMap<>();
            podSpec.get().items("volumes").forEach(volume -> volumes.put(volume.text("name"), volume));
            for (YamlNode container : podSpec.get().items("containers")) {
                serveArguments(container).ifPresent(arguments -> containers.add(new ServeContainer(container.text("name"), container.line(), where,
                        arguments, workload, mounts(container, volumes), probes(container), resourcesSet(container))));
            }
        }
        return containers;
    }

    /** The arguments after {@code serve}, when the container runs it (the image's entry point is {@code condense}). */
    private static Optional<List<ServeContainer.Argument>> serveArguments(YamlNode container) {
        Map<String, String> env = new HashMap<>();
        container.items("env").forEach(variable -> {
            if (variable.text("value") != null) {
                env.put(variable.text("name"), variable.text("value"));
            }
        });
        List<ServeContainer.Argument> all = new ArrayList<>();
        for (String key : List.of("command", "args")) {
            container.items(key).forEach(item -> all.add(new ServeContainer.Argument(expand(item.text(), env), item.line())));
        }
        for (int i = 0; i < all.size(); i++) {
            if (all.get(i).value().equals("serve")) {
                return Optional.of(all.subList(i + 1, all.size()));
            }
        }
        return Optional.empty();
    }

    private static String expand(String value, Map<String, String> env) {
        Matcher matcher = VARIABLE.matcher(value);
        StringBuilder expanded = new StringBuilder();
        while (matcher.find()) {
            matcher.appendReplacement(expanded, Matcher.quoteReplacement(env.getOrDefault(matcher.group(1), matcher.group())));
        }
        return matcher.appendTail(expanded).toString();
    }

    private static List<ServeContainer.Mount> mounts(YamlNode container, Map<String, YamlNode> volumes) {
        List<ServeContainer.Mount> mounts = new ArrayList<>();
        for (YamlNode mount : container.items("volumeMounts")) {
            YamlNode volume = volumes.get(mount.text("name"));
            String path = mount.text("mountPath");
            if (volume == null) {
                mounts.add(new ServeContainer.Mount(path, "an undeclared volume " + mount.text("name"), false, Set.of()));
                continue;
            }
            Set<String> files = new LinkedHashSet<>();
            List<String> secrets = new ArrayList<>();
            volume.get("secret").ifPresent(secret -> {
                secrets.add(secret.text("secretName"));
                secret.items("items").forEach(item -> files.add(item.text("path")));
            });
            boolean onlySecrets = volume.get("projected").map(projected -> {
                boolean all = true;
                for (YamlNode source : projected.items("sources")) {
                    Optional<YamlNode> secret = source.get("secret");
                    all &= secret.isPresent();
                    secret.ifPresent(found -> {
                        secrets.add(found.text("name"));
                        found.items("items").forEach(item -> files.add(item.text("path")));
                    });
                }
                return all;
            }).orElse(volume.get("secret").isPresent());
            String source = secrets.isEmpty() ? "volume " + volume.text("name") : "Secret " + String.join(" + ", secrets);
            mounts.add(new ServeContainer.Mount(path, source, onlySecrets, mount.text("subPath") != null ? Set.of() : files));
        }
        return mounts;
    }

    private static List<ServeContainer.Probe> probes(YamlNode container) {
        Map<String, String> ports = new HashMap<>();
        container.items("ports").forEach(port -> ports.put(port.text("name"), port.text("containerPort")));
        List<ServeContainer.Probe> probes = new ArrayList<>();
        for (String purpose : PROBES) {
            container.get(purpose).ifPresent(probe -> {
                if (probe.get("grpc").isPresent()) {
                    probes.add(new ServeContainer.Probe(purpose, "grpc", probe.at("grpc", "port").map(YamlNode::text).orElse("?"), null, probe.line()));
                } else if (probe.get("httpGet").isPresent()) {
                    String port = probe.at("httpGet", "port").map(YamlNode::text).orElse("?");
                    probes.add(new ServeContainer.Probe(purpose, "http", ports.getOrDefault(port, port),
                            probe.at("httpGet", "path").map(YamlNode::text).orElse("/"), probe.line()));
                } else {
                    probes.add(new ServeContainer.Probe(purpose, probe.entries().keySet().stream().filter(key -> key.equals("exec") || key.equals("tcpSocket")).findFirst().orElse("empty"), "?", null,
                            probe.line()));
                }
            });
        }
        return probes;
    }

    private static boolean resourcesSet(YamlNode container) {
        return container.at("resources", "requests", "memory").isPresent() && container.at("resources", "limits", "memory").isPresent();
    }
}
