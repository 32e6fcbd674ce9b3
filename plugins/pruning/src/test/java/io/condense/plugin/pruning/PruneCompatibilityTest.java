package io.condense.plugin.pruning;

import io.condense.sdk.technique.Technique;
import io.condense.sdk.testkit.InvalidParameterCase;
import io.condense.sdk.testkit.TechniqueCompatibilityKit;
import java.util.List;
import java.util.Map;

class PruneCompatibilityTest extends TechniqueCompatibilityKit {

    @Override
    protected Technique technique() {
        return new PruneTechnique();
    }

    @Override
    protected Map<String, String> validParameters() {
        return Map.of("sparsity", "0.5");
    }

    @Override
    protected List<InvalidParameterCase> invalidParameterCases() {
        return List.of(
                InvalidParameterCase.of("sparsity", "1.0"),
                InvalidParameterCase.of("sparsity", "-0.1"),
                InvalidParameterCase.of("scope", "everywhere"),
                InvalidParameterCase.of("min_elements", "-1"),
                InvalidParameterCase.of("exclude", "regex:conv(1"),
                InvalidParameterCase.of("method", "obs"),
                InvalidParameterCase.of("pattern", "5:4"),
                InvalidParameterCase.of("pattern", "4:4"),
                InvalidParameterCase.of("pattern", "2-4"),
                new InvalidParameterCase(Map.of("pattern", "2:4", "scope", "global"), "scope"),
                new InvalidParameterCase(Map.of("sensitivity", "true", "sensitivity_sparsities", "0.5,1.5"), "sensitivity_sparsities"),
                InvalidParameterCase.of("calibration_samples", "0"));
    }
}
