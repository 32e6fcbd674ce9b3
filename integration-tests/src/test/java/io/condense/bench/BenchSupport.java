package io.condense.bench;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Locale;

/** What the benchmarks share: options from system properties, a private copy of the plugin archives, the load, timing. */
final class BenchSupport {
    private BenchSupport() {
    }

    /** An option from a system property; a placeholder Maven left unresolved ("${...}") counts as absent. */
    static int option(String name, int defaultValue) {
        String value = textOption(name, null);
        if (value == null) {
            return defaultValue;
        }
        try {
            int parsed = Integer.parseInt(value.trim());
            if (parsed < 1) {
                throw new NumberFormatException("must be at least 1");
            }
            return parsed;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("-D" + name + "=" + value + " is not a positive whole number", e);
        }
    }

    static String textOption(String name, String defaultValue) {
        String value = System.getProperty(name);
        return value == null || value.isBlank() || value.startsWith("${") ? defaultValue : value;
    }

    static Path copyArchives(Path from, Path to) throws IOException {
        if (!Files.isDirectory(from)) {
            throw new IllegalStateException("no plugin archives in " + from.toAbsolutePath() + ": build them first (mvn -DskipTests install)");
        }
        Files.createDirectories(to);
        try (var files = Files.list(from)) {
            for (Path archive : files.filter(path -> path.getFileName().toString().endsWith(".jar")).toList()) {
                Files.copy(archive, to.resolve(archive.getFileName()), StandardCopyOption.REPLACE_EXISTING);
            }
        }
        return to;
    }

    static String loadAverage() {
        double load = ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage();
        return load < 0 ? "unknown" : String.format(Locale.ROOT, "%.2f", load);
    }

    static double millisSince(long startNanos) {
        return (System.nanoTime() - startNanos) / 1e6;
    }
}
