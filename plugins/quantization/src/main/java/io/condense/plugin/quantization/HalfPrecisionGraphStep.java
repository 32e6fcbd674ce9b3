package io.condense.plugin.quantization;

import io.condense.sdk.context.StepContext;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.technique.Report;
import io.condense.sdk.technique.TechniqueResult;

/** {@code quantize(dtype=fp16, scope=graph)}: {@link HalfPrecisionGraph} and its report. */
final class HalfPrecisionGraphStep {
    private HalfPrecisionGraphStep() {
    }

    static TechniqueResult apply(OnnxModel model, StepContext context) {
        context.progress(0.0, "converting the graph to float16");
        // folded reshapes give plain initializers, which are then converted too
        OnnxModel source = model.edit().foldConstantReshapes().build();
        HalfPrecisionGraph.Outcome outcome = HalfPrecisionGraph.apply(source);
        OnnxModel result = outcome.model();
        context.progress(1.0, "converted " + outcome.nodesHalf() + " nodes to float16");
        Report report = Report.builder()
                .put("technique", QuantizeTechnique.ID)
                .put("dtype", "fp16")
                .put("scope", "graph")
                .put("nodes_fp16", outcome.nodesHalf())
                .put("nodes_fp32", outcome.nodesFloat())
                .put("ops_kept_fp32", outcome.floatOps())
                .put("casts_added", outcome.casts())
                .put("initializer_bytes_before", outcome.initializerBytesBefore())
                .put("initializer_bytes_after", outcome.initializerBytesAfter())
                .put("model_bytes_before", model.serializedSize())
                .put("model_bytes_after", result.serializedSize())
                .put("opset_before", model.opsetVersion("").orElse(0L))
                .put("opset_after", result.opsetVersion("").orElse(0L))
                .build();
        return new TechniqueResult(result, report);
    }
}
