package io.condense.plugin.binarization;

import io.condense.sdk.technique.Technique;
import io.condense.sdk.testkit.InvalidParameterCase;
import io.condense.sdk.testkit.TechniqueCompatibilityKit;
import java.util.List;
import java.util.Map;

class BinarizeCompatibilityTest extends TechniqueCompatibilityKit {

    @Override
    protected Technique technique() {
        return new BinarizeTechnique();
    }

    @Override
    protected Map<String, String> validParameters() {
        return Map.of("method", "bwn");
    }

    @Override
    protected List<InvalidParameterCase> invalidParameterCases() {
        return List.of(
                InvalidParameterCase.of("bases", "0"),
                InvalidParameterCase.of("method", "xnor"),
                InvalidParameterCase.of("exclude", "regex:[conv"));
    }
}
