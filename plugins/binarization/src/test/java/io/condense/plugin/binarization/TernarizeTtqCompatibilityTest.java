package io.condense.plugin.binarization;

import io.condense.sdk.technique.Technique;
import io.condense.sdk.testkit.InvalidParameterCase;
import io.condense.sdk.testkit.TechniqueCompatibilityKit;
import java.util.List;
import java.util.Map;

/** The compatibility kit on {@code ternarize(method=ttq)}. */
class TernarizeTtqCompatibilityTest extends TechniqueCompatibilityKit {

    @Override
    protected Technique technique() {
        return new TernarizeTechnique();
    }

    @Override
    protected Map<String, String> validParameters() {
        return Map.of("method", "ttq", "ttq_threshold", "0.05");
    }

    @Override
    protected List<InvalidParameterCase> invalidParameterCases() {
        return List.of(
                InvalidParameterCase.of("ttq_threshold", "1.0"),
                InvalidParameterCase.of("method", "ttq2"));
    }
}
