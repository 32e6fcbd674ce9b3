package io.condense.plugin.binarization;

import io.condense.sdk.technique.Technique;
import io.condense.sdk.testkit.InvalidParameterCase;
import io.condense.sdk.testkit.TechniqueCompatibilityKit;
import io.condense.sdk.testkit.TestStepContext;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/** The kit with activations=8: W2-A8 with int8 (symmetric) activations, percentile ranges. Calibrated on real digits (MNIST models) or UltraFace's two photos. */
class TernarizeW2A8CompatibilityTest extends TechniqueCompatibilityKit {

    @Override
    protected Technique technique() {
        return new TernarizeTechnique();
    }

    @Override
    protected Map<String, String> validParameters() {
        return Map.of("activations", "8", "symmetric", "true", "calibration", "percentile");
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
