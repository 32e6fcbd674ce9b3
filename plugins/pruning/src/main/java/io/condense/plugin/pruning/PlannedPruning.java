package io.condense.plugin.pruning;

import io.condense.sdk.calibration.LayerInputGram;
import io.condense.sdk.context.StepContext;
import io.condense.sdk.data.Dataset;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.model.LayerSelection;
import io.condense.sdk.model.ModelEditor;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.model.WeightLayer;
import io.condense.sdk.sparsity.MagnitudeThreshold;
import io.condense.sdk.sparsity.WeightMatrix;
import io.condense.sdk.stats.ModelStats;
import io.condense.sdk.technique.Report;
import io.condense.sdk.technique.TechniqueResult;
import io.condense.sdk.tensor.DataType;
import io.condense.sdk.tensor.Tensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The prune step when it needs a per-layer plan: method=sparsegpt, an N:M pattern, scope=sensitivity or the
 * sensitivity table. Reads every selected weight, gathers X^T X of the layer inputs (sparsegpt) and the
 * sensitivity curves (when asked), decides each layer's sparsity (the same everywhere, from one global magnitude
 * threshold, or from the curves), prunes each layer and writes it dense or sparse like the magnitude path.
 */
final class PlannedPruning {
    private PlannedPruning() {
    }

    static TechniqueResult apply(OnnxModel model, OnnxModel source, LayerSelection.Result selection, PruneOptions options,
            int foldedReshapes, StepContext context) {
        List<LayerSelection.Candidate> candidates = selection.candidates();
        int count = candidates.size();
        Dataset calibration = null;
        if (options.method() == LayerPruner.Method.SPARSEGPT) {
            calibration = context.calibrationData().orElseThrow(() -> new CondenseException(ErrorCode.DATA_REQUIRED,
                    "method=sparsegpt chooses the weights to remove and updates the others from the layers' inputs on calibration "
                            + "data, and this job has none: pass --calibration-data (model inputs, .npy), or use method=magnitude"));
            if (!options.sequential() || !source.fitsInline()) {
                return OnePassSparseGpt.apply(model, source, selection, options, foldedReshapes, calibration, context);
            }
        }
        Dataset sensitivityData = null;
        if (options.sensitivityTable()) {
            sensitivityData = context.evaluationData().or(context::calibrationData).orElseThrow(() -> new CondenseException(
                    ErrorCode.DATA_REQUIRED, "the sensitivity analysis (scope=sensitivity or sensitivity=true) measures the model with "
                            + "each layer pruned, and this job has no data: pass --eval-data with --eval-labels (accuracy) or "
                            + "--calibration-data (agreement with the original model)"));
        }
        List<WeightMatrix> matrices = new ArrayList<>(count);
        List<float[]> weights = new ArrayList<>(count);
        for (LayerSelection.Candidate candidate : candidates) {
            matrices.add(WeightMatrix.of(candidate.layers().get(0), candidate.shape()));
            weights.add(source.tensor(candidate.weightName()).toFloatArray());
        }
        SensitivityAnalysis.Table table = null;
        if (sensitivityData != null) {
            // each layer alone pruned, the others dense: X^T X of the original model's inputs is the right one
            List<List<LayerInputGram>> original = calibration == null ? null
                    : layerInputs(source, candidates, calibration, options.calibrationSamples(), context, 0.0, 0.25);
            table = SensitivityAnalysis.measure(source, candidates, matrices, weights, options.method(), original,
                    options.sensitivitySparsities(), sensitivityData, options.sensitivitySamples(), context);
        }
        double[] plan = plan(options, weights, table);
        // sparsegpt is sequential, as in SparseGPT: each layer's X^T X comes from the model whose earlier layers are
        // already pruned, so that it also compensates what they lost
        OnnxModel current = source;

        Map<String, Long> macsByNode = ModelStats.macsByNode(source);
        ModelEditor editor = source.edit();
        PruneTally tally = new PruneTally(macsByNode);
        for (int i = 0; i < count; i++) {
            context.checkCancelled();
            LayerSelection.Candidate candidate = candidates.get(i);
            context.progress(0.5 + 0.5 * i / count, "layer " + (i + 1) + " of " + count + ": " + candidate.layerNames());
            List<LayerInputGram> hessians = null;
            if (calibration != null) {
                hessians = layerInputs(current, List.of(candidate), calibration, options.calibrationSamples(), context,
                        0.5 + 0.5 * i / count, 0.5 + 0.5 * (i + 1) / count).get(0);
            }
            float[] pruned = LayerPruner.prune(weights.get(i), matrices.get(i), options.method(), hessians, plan[i], options.pattern());
            if (calibration != null && i + 1 < count) {
                current = current.edit().putInitializer(Tensor.fromFloats(candidate.weightName(), DataType.FLOAT, candidate.shape(),
                        pruned).toProto()).build();
            }
            weights.set(i, null);
            byte[] dense = new byte[Math.multiplyExact(pruned.length, 4)];
            ByteBuffer.wrap(dense).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().put(pruned);
            int nonZeros = 0;
            for (float value : pruned) {
                if (value != 0.0f) {
                    nonZeros++;
                }
            }
            boolean sparse = options.allowSparse() && WeightEncoding.sparseIsSmaller(pruned.length, nonZeros);
            if (sparse) {
                editor.putSparseInitializer(WeightEncoding.sparse(candidate.weightName(), candidate.shape(), dense, nonZeros));
            } else {
                editor.putInitializer(WeightEncoding.dense(candidate.weightName(), candidate.shape(), dense));
            }
            tally.add(candidate, pruned.length, nonZeros, sparse, options.pattern() != null
                    ? Map.of("pattern", options.pattern().toString()) : Map.of("target_sparsity", plan[i]));
        }
        OnnxModel pruned = editor.build();
        context.progress(1.0, "pruned " + count + " layers");

        Report.Builder report = Report.builder();
        report.put("technique", PruneTechnique.ID)
                .put("method", options.method().toString())
                .put("scope", options.scope());
        if (options.pattern() != null) {
            report.put("pattern", options.pattern().toString());
        } else {
            report.put("target_sparsity", options.sparsity());
        }
        tally.putTotals(report, model, pruned, selection.skipped().size());
        if (calibration != null) {
            report.put("calibration_samples", Math.min(options.calibrationSamples(), calibration.size()));
        }
        if (table != null) {
            report.put("sensitivity_metric", table.metric())
                    .put("sensitivity_baseline", table.baseline())
                    .put("sensitivity_samples", table.samples())
                    .put("sensitivity", table.toReport());
        }
        if (foldedReshapes > 0) {
            report.put("folded_reshapes", foldedReshapes);
        }
        report.put("skipped", LayerSelection.skippedReport(selection.skipped()));
        tally.addLayers(report);
        return new TechniqueResult(pruned, report.build());
    }

    /**
     * X^T X of the inputs of every layer reading each candidate's weight, on {@code model}, in one pass over the data: one
     * list per candidate (one entry per layer), in candidate order. Refuses convolutions with more than two spatial axes.
     */
    static List<List<LayerInputGram>> layerInputs(OnnxModel model, List<LayerSelection.Candidate> candidates, Dataset data,
            int samples, StepContext context, double progressFrom, double progressTo) {
        List<WeightLayer> layers = new ArrayList<>();
        for (LayerSelection.Candidate candidate : candidates) {
            for (WeightLayer layer : candidate.layers()) {
                if (layer.opType().equals("Conv") && candidate.shape().length > 4) {
                    throw new CondenseException(ErrorCode.UNSUPPORTED_MODEL, "method=sparsegpt handles 1-D and 2-D convolutions; '"
                            + layer.displayName() + "' is " + (candidate.shape().length - 2) + "-D: exclude it or use method=magnitude");
                }
                layers.add(layer);
            }
        }
        String activity = "X^T X of the inputs of " + candidates.get(0).layerNames()
                + (candidates.size() > 1 ? " and " + (candidates.size() - 1) + " more layers" : "");
        List<LayerInputGram> grams = LayerInputGram.accumulate(model, layers, data, samples, context, progressFrom, progressTo, activity);
        List<List<LayerInputGram>> result = new ArrayList<>(candidates.size());
        int next = 0;
        for (LayerSelection.Candidate candidate : candidates) {
            result.add(List.copyOf(grams.subList(next, next + candidate.layers().size())));
            next += candidate.layers().size();
        }
        return result;
    }

    /** Each layer's sparsity: the target everywhere (layer), the share one global magnitude threshold gives, or from the curves. */
    static double[] plan(PruneOptions options, List<float[]> weights, SensitivityAnalysis.Table table) {
        int count = weights.size();
        double[] plan = new double[count];
        switch (options.scope()) {
            case "global" -> {
                int[][] bits = new int[count][];
                long total = 0;
                for (int i = 0; i < count; i++) {
                    float[] values = weights.get(i);
                    bits[i] = new int[values.length];
                    for (int j = 0; j < values.length; j++) {
                        bits[i][j] = Float.floatToRawIntBits(values[j]);
                    }
                    total += values.length;
                }
                MagnitudeThreshold.Threshold threshold = new MagnitudeThreshold().find(bits, Math.round(options.sparsity() * total));
                long ties = threshold.ties();
                for (int i = 0; i < count; i++) {
                    byte[] scratch = new byte[bits[i].length * 4];
                    MagnitudeThreshold.Applied applied = MagnitudeThreshold.apply(bits[i], threshold.bits(), ties, scratch);
                    ties -= applied.tiesUsed();
                    plan[i] = bits[i].length == 0 ? 0 : 1.0 - (double) applied.nonZeros() / bits[i].length;
                }
            }
            case "sensitivity" -> plan = SparsityAllocation.allocate(table, options.sparsity());
            default -> java.util.Arrays.fill(plan, options.sparsity());
        }
        return plan;
    }
}
