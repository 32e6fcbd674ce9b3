package io.condense.server.plugin;

import io.condense.sdk.technique.Technique;
import java.nio.file.Path;

/** Techniques offered to a worker without a plugin archive, for tests of the step consumers. */
public final class TestTechniques {
    private TestTechniques() {
    }

    /** The technique as if a plugin of that id had loaded it, running in the test's class loader. */
    public static LoadedTechnique loaded(Technique technique) {
        return new LoadedTechnique(technique, technique.descriptor(), "test-" + technique.descriptor().id(), "1.0.0",
                Path.of("test-plugin.jar"), TestTechniques.class.getClassLoader());
    }
}
