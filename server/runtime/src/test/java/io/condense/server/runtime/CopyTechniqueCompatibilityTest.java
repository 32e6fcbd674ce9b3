package io.condense.server.runtime;

import io.condense.sdk.technique.Technique;
import io.condense.sdk.testkit.InvalidParameterCase;
import io.condense.sdk.testkit.TechniqueCompatibilityKit;
import java.util.List;
import java.util.Map;

/** The kit on a technique that does everything right passes on every reference model. */
class CopyTechniqueCompatibilityTest extends TechniqueCompatibilityKit {
    @Override
    protected Technique technique() {
        return new CopyTechnique();
    }

    @Override
    protected Map<String, String> validParameters() {
        return Map.of("fraction", "0.25", "mode", "exact");
    }

    @Override
    protected List<InvalidParameterCase> invalidParameterCases() {
        return List.of(
                InvalidParameterCase.of("fraction", "1"),
                InvalidParameterCase.of("level", "-1"),
                InvalidParameterCase.of("mode", "slow"),
                new InvalidParameterCase(Map.of("fraction", "2", "level", "9"), "level"));
    }
}
