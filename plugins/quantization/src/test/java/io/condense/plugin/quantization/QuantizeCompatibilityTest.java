package io.condense.plugin.quantization;

import io.condense.sdk.technique.Technique;
import io.condense.sdk.testkit.InvalidParameterCase;
import io.condense.sdk.testkit.TechniqueCompatibilityKit;
import java.util.List;
import java.util.Map;

class QuantizeCompatibilityTest extends TechniqueCompatibilityKit {

    @Override
    protected Technique technique() {
        return new QuantizeTechnique();
    }

    @Override
    protected Map<String, String> validParameters() {
        return Map.of("granularity", "per_channel", "bits", "8");
    }

    @Override
    protected List<InvalidParameterCase> invalidParameterCases() {
        return List.of(
                InvalidParameterCase.of("bits", "1"),
                InvalidParameterCase.of("bits", "5"),
                InvalidParameterCase.of("block", "1"),
                InvalidParameterCase.of("method", "awq"),
                InvalidParameterCase.of("scheme", "fp4"),
                new InvalidParameterCase(Map.of("scheme", "kmeans", "bits", "4", "activations", "true"), "activations"),
                new InvalidParameterCase(Map.of("scheme", "pow2", "bits", "8", "activations", "true"), "activations"),
                new InvalidParameterCase(Map.of("block", "64"), "block"),
                new InvalidParameterCase(Map.of("scheme", "kmeans", "bits", "4", "granularity", "per_tensor"), "granularity"),
                new InvalidParameterCase(Map.of("scheme", "pow2", "bits", "4", "method", "gptq"), "method"),
                InvalidParameterCase.of("granularity", "foo"),
                InvalidParameterCase.of("min_elements", "-5"),
                InvalidParameterCase.of("exclude", "regex:[conv"),
                InvalidParameterCase.of("dtype", "fp8"),
                InvalidParameterCase.of("calibration", "kl"),
                InvalidParameterCase.of("percentile", "100"),
                InvalidParameterCase.of("calibration_samples", "0"));
    }
}
