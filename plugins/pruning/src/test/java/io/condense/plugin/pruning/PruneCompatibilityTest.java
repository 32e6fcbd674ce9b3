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
                InvalidParameterCase.of("exclude", "regex:conv(1"));
    }
}
