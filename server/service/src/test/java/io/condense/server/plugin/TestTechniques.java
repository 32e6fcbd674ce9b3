package io.condense.server.plugin;

import io.condense.sdk.context.StepContext;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.technique.Parameters;
import io.condense.sdk.technique.Report;
import io.condense.sdk.technique.Technique;
import io.condense.sdk.technique.TechniqueDescriptor;
import io.condense.sdk.technique.TechniqueResult;
import java.nio.file.Path;
import java.util.List;

/** Techniques offered to a worker without a plugin archive, for tests of the step consumers. */
public final class TestTechniques {
    private TestTechniques() {
    }

    /** The technique as if a plugin of that id had loaded it, running in the test's class loader. */
    public static LoadedTechnique loaded(Technique technique) {
        return new LoadedTechnique(technique, technique.descriptor(), "test-" + technique.descriptor().id(), "1.0.0",
                Path.of("test-plugin.jar"), TestTechniques.class.getClassLoader());
    }

    /** A technique of that id that returns the model unchanged, loaded as {@link #loaded} does. */
    public static LoadedTechnique copy(String id) {
        return loaded(new Copy(id));
    }

    /** Returns the model unchanged. */
    private record Copy(String id) implements Technique {
        @Override
        public TechniqueDescriptor descriptor() {
            return new TechniqueDescriptor(id, "1.0.0", "Returns the model unchanged; for tests", "testing", List.of());
        }

        @Override
        public TechniqueResult apply(OnnxModel model, Parameters parameters, StepContext context) {
            return new TechniqueResult(model, Report.builder().build());
        }
    }
}
