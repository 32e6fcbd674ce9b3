package io.condense.server.cli.deploy;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.function.IntFunction;

/** The chart in deploy/helm/condense, rendered by the real {@code helm} (installed by run-tests, see deploy/README.md). */
final class HelmChart {
    /** The version run-tests installs; the test looks for it where run-tests puts it. */
    static final String HELM_VERSION = "4.1.4";

    private final Path helm;
    private final Path chart;

    private HelmChart(Path helm, Path chart) {
        this.helm = helm;
        this.chart = chart;
    }

    /** The chart with a helm binary: $HELM, run-tests' copy, or helm on the PATH. */
    static Optional<HelmChart> find(Path chart) {
        List<Path> candidates = new ArrayList<>();
        Optional.ofNullable(System.getenv("HELM")).ifPresent(helm -> candidates.add(Path.of(helm)));
        String cache = Optional.ofNullable(System.getenv("XDG_CACHE_HOME")).orElse(System.getProperty("user.home") + "/.cache");
        candidates.add(Path.of(cache, "condense", "helm-" + HELM_VERSION, "helm"));
        for (String folder : Optional.ofNullable(System.getenv("PATH")).orElse("").split(java.io.File.pathSeparator)) {
            if (!folder.isEmpty()) {
                candidates.add(Path.of(folder, "helm"));
            }
        }
        return candidates.stream().filter(Files::isExecutable).findFirst().map(helm -> new HelmChart(helm, chart));
    }

    /** {@code helm template} with these {@code --set} values: the manifests, and where each rendered line comes from. */
    Rendered render(Map<String, String> values) {
        List<String> command = new ArrayList<>(List.of(helm.toString(), "template", "condense", chart.toString()));
        values.forEach((key, value) -> command.addAll(List.of("--set", key + "=" + value)));
        String yaml = run(command);
        return new Rendered(yaml, sources(yaml, "helm template --set " + values));
    }

    /** {@code helm lint --strict}: its output, or an exception with it when the chart has errors or warnings. */
    String lint() {
        return run(List.of(helm.toString(), "lint", "--strict", chart.toString()));
    }

    record Rendered(String yaml, IntFunction<String> where) {
    }

    /** helm writes "# Source: condense/templates/FILE" before each document: a rendered line's template. */
    private static IntFunction<String> sources(String yaml, String how) {
        String[] lines = yaml.split("\n", -1);
        return line -> {
            String source = "?";
            int start = 0;
            for (int i = 0; i < Math.min(line, lines.length); i++) {
                if (lines[i].startsWith("# Source: ")) {
                    source = lines[i].substring("# Source: ".length());
                    start = i + 1;
                }
            }
            return "deploy/helm/" + source + " (" + how + ", rendered line " + (line - start) + " of that template)";
        };
    }

    private static String run(List<String> command) {
        try {
            Path output = Files.createTempFile("condense-helm", ".out");
            Path errors = Files.createTempFile("condense-helm", ".err");
            try {
                Process process = new ProcessBuilder(command).redirectOutput(output.toFile()).redirectError(errors.toFile()).start();
                if (!process.waitFor(60, TimeUnit.SECONDS)) {
                    process.destroyForcibly();
                    throw new IllegalStateException(String.join(" ", command) + " did not finish within 60 s");
                }
                String text = Files.readString(output, StandardCharsets.UTF_8);
                if (process.exitValue() != 0) {
                    throw new IllegalStateException(String.join(" ", command) + " failed (exit " + process.exitValue() + "):\n" + text
                            + Files.readString(errors, StandardCharsets.UTF_8));
                }
                return text;
            } finally {
                Files.deleteIfExists(output);
                Files.deleteIfExists(errors);
            }
        } catch (IOException e) {
            throw new IllegalStateException("cannot run " + command.get(0) + ": " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted running helm", e);
        }
    }
}
