package io.condense.it;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** Where the tests find the real plugin archives, the shared models and data. */
final class TestEnvironment {
    private TestEnvironment() {
    }

    /** The archives the build makes (build/plugins); fails clearly when they have not been built. */
    static List<Path> realPluginArchives() throws IOException {
        Path folder = Path.of(System.getProperty("condense.plugins.dir", "../build/plugins"));
        if (!Files.isDirectory(folder)) {
            throw new IllegalStateException("no plugin archives in " + folder.toAbsolutePath() + ": build the plugins first (mvn -DskipTests install)");
        }
        try (var files = Files.list(folder)) {
            List<Path> archives = files.filter(path -> path.getFileName().toString().endsWith(".jar"))
                    .filter(path -> !path.getFileName().toString().startsWith("unset-"))
                    .sorted().toList();
            if (archives.isEmpty()) {
                throw new IllegalStateException("no plugin archives in " + folder.toAbsolutePath() + ": build the plugins first");
            }
            return archives;
        }
    }

    static Path sharedFolder() {
        Path shared = Path.of(System.getProperty("condense.shared.dir", "../../shared"));
        assumeTrue(Files.isDirectory(shared.resolve("models")), "the shared models folder is absent: " + shared.toAbsolutePath());
        return shared;
    }

    static Path mnist8() {
        return sharedFolder().resolve("models/mnist8/model.onnx");
    }

    static Path digitImages() {
        return sharedFolder().resolve("data/mnist-digits/images-idx3-ubyte");
    }

    static Path digitLabels() {
        return sharedFolder().resolve("data/mnist-digits/labels-idx1-ubyte");
    }
}
