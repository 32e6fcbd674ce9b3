package io.condense.plugin.pruning;

import ai.onnx.proto.OnnxMl.SparseTensorProto;
import io.condense.sdk.calibration.LayerInputGram;
import io.condense.sdk.calibration.LayerInputGrams;
import io.condense.sdk.context.StepContext;
import io.condense.sdk.data.Dataset;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.model.LayerSelection;
import io.condense.sdk.model.ModelEditor;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.model.WeightLayer;
import io.condense.sdk.sparsity.WeightMatrix;
import io.condense.sdk.stats.ModelStats;
import io.condense.sdk.technique.Report;
import io.condense.sdk.technique.TechniqueResult;
import io.condense.sdk.tensor.OffHeapBytes;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * SparseGPT in memory bounded by one weight, whatever the model's size ({@code sequential=false}, and every model over
 * 2 GiB): the calibration data runs through the original model once, the SDK's {@link LayerInputGrams} keeps the Grams
 * X^T X of the first layer inputs within its budget and spills the other inputs to the scratch folder; then the weights
 * are pruned one at a time in graph order, each read from the model (memory-mapped with external data) only when its turn
 * comes, given its Gram (summed back from disk when spilled; q, k and v share one) and written out of the heap. Every
 * layer's inputs come from the original model, not from the model whose earlier layers are already pruned: the price of
 * one pass instead of one per layer.
 */
final class OnePassSparseGpt {
    /** Written tensors at least this large are spilled out of the heap. */
    private static final long SPILL_BYTES = 1 << 20;

    private OnePassSparseGpt() {
    }

    static TechniqueResult apply(OnnxModel model, OnnxModel source, LayerSelection.Result selection, PruneOptions options,
            int foldedReshapes, Dataset calibration, StepContext context) {
        String why = options.sequential() ? "this model holds " + source.serializedSize() / (1 << 20) + " MiB of tensors, over "
                + "the 2 GiB that the sequential path (every selected weight in memory) takes, so its weights are pruned one at "
                + "a time from one calibration pass" : "sequential=false prunes one weight at a time from one calibration pass";
        if (options.sensitivityTable()) {
            throw new CondenseException(ErrorCode.UNSUPPORTED_MODEL, why + ", and the sensitivity analysis (scope=sensitivity or "
                    + "sensitivity=true) prunes and evaluates every layer of the whole model: drop it and use scope=layer or a "
                    + "pattern");
        }
        if (options.pattern() == null && options.scope().equals("global")) {
            throw new CondenseException(ErrorCode.UNSUPPORTED_MODEL, why + ", and scope=global (the default) first needs one "
                    + "magnitude threshold over all weights at once: give scope=layer (the same sparsity in every layer) or a "
                    + "pattern such as 2:4");
        }
        List<LayerSelection.Candidate> candidates = selection.candidates();
        int count = candidates.size();
        List<List<WeightLayer>> layers = new ArrayList<>(count);
        for (LayerSelection.Candidate candidate : candidates) {
            layers.add(candidate.layers());
        }
        PruneTally tally = new PruneTally(ModelStats.macsByNode(source));
        ModelEditor editor = source.edit();
        int spilledInputs;
        long spilledBytes;
        try (LayerInputGrams grams = LayerInputGrams.measure(source, layers, calibration, options.calibrationSamples(), context,
                0.0, 0.5, "SparseGPT")) {
            spilledInputs = grams.spilledInputs();
            spilledBytes = grams.spilledBytes();
            for (int i = 0; i < count; i++) {
                context.checkCancelled();
                LayerSelection.Candidate candidate = candidates.get(i);
                context.progress(0.5 + 0.5 * i / count, "layer " + (i + 1) + " of " + count + ": " + candidate.layerNames());
                List<LayerInputGram> inputs = grams.inputsOf(i, context);
                float[] weights = source.tensor(candidate.weightName()).toFloatArray();
                float[] pruned = LayerPruner.prune(weights, WeightMatrix.of(candidate.layers().get(0), candidate.shape()),
                        LayerPruner.Method.SPARSEGPT, inputs, options.sparsity(), options.pattern());
                weights = null;
                inputs = null;
                grams.releaseServed();
                write(editor, tally, candidate, pruned, options);
            }
        }
        OnnxModel pruned = editor.build();
        context.progress(1.0, "pruned " + count + " layers");

        Report.Builder report = Report.builder();
        report.put("technique", PruneTechnique.ID)
                .put("method", options.method().toString())
                .put("scope", options.scope())
                .put("sequential", false);
        if (options.pattern() != null) {
            report.put("pattern", options.pattern().toString());
        } else {
            report.put("target_sparsity", options.sparsity());
        }
        tally.putTotals(report, model, pruned, selection.skipped().size());
        report.put("calibration_samples", Math.min(options.calibrationSamples(), calibration.size()))
                .put("calibration_spilled_inputs", spilledInputs)
                .put("calibration_spilled_bytes", spilledBytes);
        if (foldedReshapes > 0) {
            report.put("folded_reshapes", foldedReshapes);
        }
        report.put("skipped", LayerSelection.skippedReport(selection.skipped()));
        tally.addLayers(report);
        return new TechniqueResult(pruned, report.build());
    }

    /** The pruned weight into the model, dense or sparse as the planned path writes it, its bytes out of the heap. */
    private static void write(ModelEditor editor, PruneTally tally, LayerSelection.Candidate candidate, float[] pruned,
            PruneOptions options) {
        int nonZeros = 0;
        for (float value : pruned) {
            if (value != 0.0f) {
                nonZeros++;
            }
        }
        byte[] dense = new byte[Math.multiplyExact(pruned.length, 4)];
        ByteBuffer.wrap(dense).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().put(pruned);
        boolean sparse = options.allowSparse() && WeightEncoding.sparseIsSmaller(pruned.length, nonZeros);
        if (sparse) {
            SparseTensorProto tensor = WeightEncoding.sparse(candidate.weightName(), candidate.shape(), dense, nonZeros);
            editor.putSparseInitializer(tensor.toBuilder()
                    .setValues(tensor.getValues().toBuilder().setRawData(spilled(tensor.getValues().getRawData().toByteArray())))
                    .setIndices(tensor.getIndices().toBuilder().setRawData(spilled(tensor.getIndices().getRawData().toByteArray())))
                    .build());
        } else {
            editor.putInitializer(WeightEncoding.dense(candidate.weightName(), candidate.shape(), new byte[0]).toBuilder()
                    .setRawData(spilled(dense)).build());
        }
        tally.add(candidate, pruned.length, nonZeros, sparse, options.pattern() != null
                ? Map.of("pattern", options.pattern().toString()) : Map.of("target_sparsity", options.sparsity()));
    }

    private static com.google.protobuf.ByteString spilled(byte[] bytes) {
        return OffHeapBytes.spillIfLarge(bytes, SPILL_BYTES);
    }
}
