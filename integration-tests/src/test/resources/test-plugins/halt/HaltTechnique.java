package org.example.halt;

import io.condense.sdk.context.StepContext;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.technique.Parameters;
import io.condense.sdk.technique.Technique;
import io.condense.sdk.technique.TechniqueDescriptor;
import io.condense.sdk.technique.TechniqueResult;
import java.util.List;
import org.pf4j.Extension;

/**
 * Takes its worker process down, as a native crash or the kernel's out-of-memory killer would: no exception, no
 * outcome, no shutdown hooks. Only ever loaded by tests that run the server as a separate process.
 */
@Extension
public final class HaltTechnique implements Technique {
    @Override
    public TechniqueDescriptor descriptor() {
        return new TechniqueDescriptor("halt", "1.0.0", "Halts the JVM it runs in; for crash tests", "testing", List.of());
    }

    @Override
    public TechniqueResult apply(OnnxModel model, Parameters parameters, StepContext context) {
        Runtime.getRuntime().halt(137);
        throw new IllegalStateException("unreachable");
    }
}
