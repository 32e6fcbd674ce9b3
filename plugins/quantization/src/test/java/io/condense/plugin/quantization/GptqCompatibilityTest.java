package io.condense.plugin.quantization;

import io.condense.sdk.technique.Technique;
import io.condense.sdk.testkit.SharedData;
import io.condense.sdk.testkit.TechniqueCompatibilityKit;
import io.condense.sdk.testkit.TestStepContext;
import java.nio.file.Path;
import java.util.Map;

/** The kit's invariants for 3-bit blocked GPTQ (UltraFace's depthwise convolutions fall back to rounding to nearest). */
class GptqCompatibilityTest extends TechniqueCompatibilityKit {

    @Override
    protected Technique technique() {
        return new QuantizeTechnique();
    }

    @Override
    protected Map<String, String> validParameters() {
        return Map.of("bits", "3", "granularity", "block", "block", "32", "method", "gptq", "calibration_samples", "20");
    }

    @Override
    protected TestStepContext.Builder stepContext(Path model) {
        try {
            String name = model.getFileName().toString();
            return TestStepContext.builder().calibrationData(name.startsWith("version-RFB") ? QuantizeTechniqueTest.photos()
                    : SharedData.mnistDigits(20, model.toString().contains("mnist8") ? 1f / 255 : 1f));
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }
}
