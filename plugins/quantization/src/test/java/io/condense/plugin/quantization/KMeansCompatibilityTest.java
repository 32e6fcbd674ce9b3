package io.condense.plugin.quantization;

import io.condense.sdk.technique.Technique;
import io.condense.sdk.testkit.TechniqueCompatibilityKit;
import java.util.Map;

/** The kit's invariants for 4-bit k-means weight sharing. */
class KMeansCompatibilityTest extends TechniqueCompatibilityKit {

    @Override
    protected Technique technique() {
        return new QuantizeTechnique();
    }

    @Override
    protected Map<String, String> validParameters() {
        return Map.of("scheme", "kmeans", "bits", "4");
    }
}
