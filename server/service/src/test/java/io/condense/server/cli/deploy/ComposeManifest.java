package io.condense.server.cli.deploy;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.function.IntFunction;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** The {@code condense serve} services of a Docker Compose file. */
final class ComposeManifest {
    /** A healthcheck that asks an HTTP URL of the container itself. */
    private static final Pattern LOCAL_URL = Pattern.compile("https?://(?:127\\.0\\.0\\.1|localhost)(?::(\\d+))?(/[^\\s\"']*)?");
    private static final String SECRETS = "/run/secrets/";

    private ComposeManifest() {
    }

    static List<ServeContainer> containers(String yaml, IntFunction<String> where) {
        List<ServeContainer> containers = new ArrayList<>();
        YamlNode compose = YamlNode.documents(yaml).get(0);
        Set<String> declaredSecrets = compose.get("secrets").map(secrets -> secrets.entries().keySet()).orElse(Set.of());
        compose.get("services").ifPresent(services -> services.entries().forEach((name, service) -> {
            Optional<List<ServeContainer.Argument>> arguments = serveArguments(service);
            if (arguments.isEmpty()) {
                return;
            }
            String restart = service.text("restart");
            boolean restarts = (restart != null && !restart.equals("no")) || service.at("deploy", "restart_policy").isPresent();
            int replicas = Integer.parseInt(service.at("deploy", "replicas").map(YamlNode::text).orElse("1"));
            ServeContainer.Workload workload = new ServeContainer.Workload("compose service", name, replicas, true, restarts, List.of("healthcheck"));
            containers.add(new ServeContainer(name, service.line(), where, arguments.get(), workload, mounts(service, declaredSecrets),
                    probes(service), service.at("deploy", "resources", "limits", "memory").isPresent()));
        }));
        return containers;
    }

    /** The arguments after {@code serve} of the service's command (the image's entry point is {@code condense}). */
    private static Optional<List<ServeContainer.Argument>> serveArguments(YamlNode service) {
        Optional<YamlNode> command = service.get("command");
        if (command.isEmpty()) {
            return Optional.empty();
        }
        List<ServeContainer.Argument> all = new ArrayList<>();
        if (command.get().text() != null) {
            for (String word : command.get().text().trim().split("\\s+")) {
                all.add(new ServeContainer.Argument(word, command.get().line()));
            }
        } else {
            command.get().items().forEach(item -> all.add(new ServeContainer.Argument(item.text(), item.line())));
        }
        if (all.isEmpty() || !all.get(0).value().equals("serve")) {
            return Optional.empty();
        }
        return Optional.of(all.subList(1, all.size()));
    }

    private static List<ServeContainer.Mount> mounts(YamlNode service, Set<String> declaredSecrets) {
        List<ServeContainer.Mount> mounts = new ArrayList<>();
        for (YamlNode secret : service.items("secrets")) {
            String source = secret.text() != null ? secret.text() : secret.text("source");
            String target = secret.text() != null ? source : Optional.ofNullable(secret.text("target")).orElse(source);
            String path = target.startsWith("/") ? target : SECRETS + target;
            boolean declared = declaredSecrets.contains(source);
            mounts.add(new ServeContainer.Mount(path, declared ? "secret " + source : "the undeclared secret " + source, declared, Set.of()));
        }
        for (YamlNode volume : service.items("volumes")) {
            String[] parts = volume.text() != null ? volume.text().split(":") : new String[] {volume.text("source"), volume.text("target")};
            if (parts.length >= 2) {
                mounts.add(new ServeContainer.Mount(parts[1], "volume " + parts[0], false, Set.of()));
            }
        }
        return mounts;
    }

    private static List<ServeContainer.Probe> probes(YamlNode service) {
        Optional<YamlNode> healthcheck = service.get("healthcheck");
        if (healthcheck.isEmpty() || "true".equals(healthcheck.get().text("disable"))) {
            return List.of();
        }
        Optional<YamlNode> test = healthcheck.get().get("test");
        String command = test.map(node -> node.text() != null ? node.text()
                : String.join(" ", node.items().stream().map(YamlNode::text).toList())).orElse("");
        Matcher url = LOCAL_URL.matcher(command);
        int line = test.map(YamlNode::line).orElse(healthcheck.get().line());
        if (!url.find()) {
            return List.of(new ServeContainer.Probe("healthcheck", "exec", "?", null, line));
        }
        return List.of(new ServeContainer.Probe("healthcheck", "http", url.group(1) == null ? "80" : url.group(1),
                url.group(2) == null ? "/" : url.group(2), line));
    }
}
