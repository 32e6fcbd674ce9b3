package io.condense.plugin.coding;

import io.condense.plugin.binarization.BinarizeTechnique;
import io.condense.plugin.binarization.TernarizeTechnique;
import io.condense.plugin.pruning.PruneTechnique;
import io.condense.plugin.quantization.QuantizeTechnique;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.technique.Parameters;
import io.condense.sdk.technique.Technique;
import io.condense.sdk.technique.TechniqueResult;
import io.condense.sdk.testkit.TestStepContext;
import java.util.LinkedHashMap;
import java.util.Map;

/** Runs the real techniques as a pipeline's steps would, each output written to bytes and read back. */
final class Pipelines {
    private Pipelines() {
    }

    static TechniqueResult apply(Technique technique, OnnxModel model, Map<String, String> values) {
        Parameters parameters = Parameters.validate(technique.descriptor().parameters(), values);
        try (TestStepContext context = TestStepContext.builder().technique(technique, values).build()) {
            return technique.apply(model, parameters, context);
        }
    }

    /** A chain written like a pipeline, "prune(sparsity=0.9) | quantize(scheme=kmeans, bits=6)"; "" is the model as it is. */
    static OnnxModel run(OnnxModel model, String chain) {
        OnnxModel current = model;
        if (chain.isBlank()) {
            return current;
        }
        for (String step : chain.split("\\|")) {
            step = step.trim();
            String name = step.contains("(") ? step.substring(0, step.indexOf('(')) : step;
            Map<String, String> values = new LinkedHashMap<>();
            if (step.contains("(")) {
                String inside = step.substring(step.indexOf('(') + 1, step.lastIndexOf(')'));
                for (String pair : inside.split(",")) {
                    if (!pair.isBlank()) {
                        String[] kv = pair.split("=", 2);
                        values.put(kv[0].trim(), kv[1].trim());
                    }
                }
            }
            Technique technique = switch (name) {
                case "prune" -> new PruneTechnique();
                case "quantize" -> new QuantizeTechnique();
                case "binarize" -> new BinarizeTechnique();
                case "ternarize" -> new TernarizeTechnique();
                default -> throw new IllegalArgumentException("unknown step " + name);
            };
            current = OnnxModel.fromBytes(apply(technique, current, values).model().toBytes());
        }
        return current;
    }
}
