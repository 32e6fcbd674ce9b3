package org.example.explode;

import io.condense.sdk.context.StepContext;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.technique.Parameters;
import io.condense.sdk.technique.Technique;
import io.condense.sdk.technique.TechniqueDescriptor;
import io.condense.sdk.technique.TechniqueResult;
import java.util.List;
import org.pf4j.Extension;

/** A deliberately broken technique: it always throws something unexpected. */
@Extension
public final class ExplodeTechnique implements Technique {
    @Override
    public TechniqueDescriptor descriptor() {
        return new TechniqueDescriptor("explode", "1.0.0", "Always throws; a deliberately broken plugin", "testing", List.of());
    }

    @Override
    public TechniqueResult apply(OnnxModel model, Parameters parameters, StepContext context) {
        throw new IllegalStateException("boom: this plugin is broken on purpose");
    }
}
