package io.condense.plugin.coding;

import io.condense.sdk.technique.Technique;
import io.condense.sdk.testkit.InvalidParameterCase;
import io.condense.sdk.testkit.TechniqueCompatibilityKit;
import java.util.List;
import java.util.Map;

/** The SDK's compatibility kit on encode: the returned (decoded) model runs with the same inputs and outputs, input untouched, report complete. */
class EncodeCompatibilityTest extends TechniqueCompatibilityKit {
    @Override
    protected Technique technique() {
        return new EncodeTechnique();
    }

    @Override
    protected Map<String, String> validParameters() {
        return Map.of();
    }

    @Override
    protected List<InvalidParameterCase> invalidParameterCases() {
        return List.of(InvalidParameterCase.of("entropy", "zip"), InvalidParameterCase.of("min_elements", "0"));
    }
}
