package io.condense.plugin.binarization;

import io.condense.sdk.technique.Technique;
import io.condense.sdk.testkit.InvalidParameterCase;
import io.condense.sdk.testkit.TechniqueCompatibilityKit;
import java.util.List;
import java.util.Map;

/** The kit again with several bases, whose dequantized sum (Sum of DequantizeLinear outputs) is what runs. */
class BinarizeAbcCompatibilityTest extends TechniqueCompatibilityKit {

    @Override
    protected Technique technique() {
        return new BinarizeTechnique();
    }

    @Override
    protected Map<String, String> validParameters() {
        return Map.of("method", "abc", "bases", "3", "keep_first_last", "false");
    }

    @Override
    protected List<InvalidParameterCase> invalidParameterCases() {
        // the specs accept these; apply refuses them because they belong to another method
        return List.of(
                new InvalidParameterCase(Map.of("method", "bwn", "bases", "5"), "bases"),
                new InvalidParameterCase(Map.of("method", "abc", "order", "3"), "order"));
    }
}
