package io.condense.plugin.quantization;

import java.util.Map;

/**
 * The kit's invariants for 4-bit blocked weights with static uint8 activations (W4A8 in QDQ form), on the GPTQ kit's
 * calibration data (20 digits for the MNIST models, UltraFace's two photos).
 */
class W4A8CompatibilityTest extends GptqCompatibilityTest {

    @Override
    protected Map<String, String> validParameters() {
        return Map.of("bits", "4", "granularity", "block", "block", "32", "activations", "true", "calibration_samples", "20");
    }
}
