package io.condense.plugin.binarization;

import io.condense.sdk.technique.Technique;
import io.condense.sdk.testkit.InvalidParameterCase;
import io.condense.sdk.testkit.TechniqueCompatibilityKit;
import java.util.List;
import java.util.Map;

class TernarizeCompatibilityTest extends TechniqueCompatibilityKit {

    @Override
    protected Technique technique() {
        return new TernarizeTechnique();
    }

    @Override
    protected Map<String, String> validParameters() {
        return Map.of("method", "twn", "threshold", "0.7");
    }

    @Override
    protected List<InvalidParameterCase> invalidParameterCases() {
        return List.of(
                InvalidParameterCase.of("threshold", "1.0"),
                InvalidParameterCase.of("min_elements", "-1"),
                InvalidParameterCase.of("exclude", "regex:(conv"));
    }
}
