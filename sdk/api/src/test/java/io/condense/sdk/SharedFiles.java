package io.condense.sdk;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The shared read-only models and data (../shared beside the checkout). Tests that need them skip with a
 * clear message when the folder is absent; surefire passes its location as {@code condense.shared.dir}.
 */
public final class SharedFiles {
    private SharedFiles() {
    }

    public static Path sharedDirectory() {
        String configured = System.getProperty("condense.shared.dir");
        if (configured != null && !configured.isBlank() && !configured.contains("${")) {
            return Path.of(configured).toAbsolutePath().normalize();
        }
        Path current = Path.of("").toAbsolutePath();
        for (Path folder = current; folder != null; folder = folder.getParent()) {
            if (Files.isRegularFile(folder.resolve("sdk/api/pom.xml"))) {
                return folder.resolve("../shared").normalize();
            }
        }
        return current.resolve("../shared").normalize();
    }

    /** A file under the shared folder; skips the calling test when it is missing. */
    public static Path require(String relativePath) {
        Path file = sharedDirectory().resolve(relativePath);
        assumeTrue(Files.exists(file), "shared test file " + file + " is absent (set -Dcondense.shared.dir to the shared folder); skipping");
        return file;
    }
}
