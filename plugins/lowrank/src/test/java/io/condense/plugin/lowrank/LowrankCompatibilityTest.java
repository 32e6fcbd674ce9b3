package io.condense.plugin.lowrank;

import io.condense.sdk.technique.Technique;
import io.condense.sdk.testkit.InvalidParameterCase;
import io.condense.sdk.testkit.TechniqueCompatibilityKit;
import java.util.List;
import java.util.Map;

/** The kit's invariants on mnist8, pytorch_cnn_mnist and UltraFace, with Tucker-2 so that every model has layers to factorise. */
class LowrankCompatibilityTest extends TechniqueCompatibilityKit {

    @Override
    protected Technique technique() {
        return new LowRankTechnique();
    }

    @Override
    protected Map<String, String> validParameters() {
        return Map.of("method", "tucker2", "ratio", "0.5");
    }

    @Override
    protected List<InvalidParameterCase> invalidParameterCases() {
        return List.of(
                InvalidParameterCase.of("ratio", "1.0"),
                InvalidParameterCase.of("energy", "1.5"),
                InvalidParameterCase.of("rank", "-3"),
                InvalidParameterCase.of("method", "cp"),
                // a rank the reference model's matrices cannot have: only apply sees the model
                InvalidParameterCase.whenRun(Map.of("ratio", "0", "rank", "100000"), "rank"),
                // rules across parameters, refused by validate at Submit
                new InvalidParameterCase(Map.of("energy", "0.9"), "ratio"),
                new InvalidParameterCase(Map.of("ratio", "0", "rank", "2", "selection", "greedy"), "selection"),
                InvalidParameterCase.of("ops", "Gemm,LSTM"),
                new InvalidParameterCase(Map.of("method", "svd", "ops", "Conv"), "ops"));
    }
}
