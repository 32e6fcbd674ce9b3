package io.condense.plugin.binarization;

import io.condense.sdk.technique.Technique;
import io.condense.sdk.testkit.InvalidParameterCase;
import io.condense.sdk.testkit.TechniqueCompatibilityKit;
import io.condense.sdk.testkit.TestStepContext;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/** The kit with activations=8: W1-A8 with two residual bases (HORQ): the Sum of bases keeps the layers float kernels between activation QDQ pairs. Calibrated on real digits (MNIST models) or UltraFace's two photos. */
class BinarizeW1A8CompatibilityTest extends TechniqueCompatibilityKit {

    @Override
    protected Technique technique() {
        return new BinarizeTechnique();
    }

    @Override
    protected Map<String, String> validParameters() {
        return Map.of("method", "horq", "order", "2", "activations", "8");
    }

    @Override
    protected TestStepContext.Builder stepContext(Path model) {
        String name = model.toString();
        if (name.contains("ultraface")) {
            return TestStepContext.builder().calibrationData(Models.ultrafacePhotos());
        }
        return TestStepContext.builder().calibrationData(Models.calibrationDigitsFor(name.contains("mnist8") ? "mnist8" : name, 50));
    }

    @Override
    protected List<InvalidParameterCase> invalidParameterCases() {
        // apply refuses calibration options with float activations (the kit adds these to the valid parameters); 16 is no choice
        return List.of(
                new InvalidParameterCase(Map.of("activations", "float", "calibration", "entropy"), "calibration"),
                new InvalidParameterCase(Map.of("activations", "float", "symmetric", "true"), "symmetric"),
                new InvalidParameterCase(Map.of("activations", "16"), "activations"));
    }
}
