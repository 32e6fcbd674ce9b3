package io.condense.plugin.training.sparsity;

import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.model.LayerSelection;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.sparsity.NmPattern;
import io.condense.sdk.sparsity.WeightMatrix;
import io.condense.sdk.technique.Parameters;
import io.condense.sdk.technique.Report;
import io.condense.sdk.technique.SelectionParameters;
import io.condense.sdk.training.Regularizer;
import io.condense.sdk.training.TrainingRequest;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * What {@code finetune}'s sparsity parameters ask of one model: the gradual pruning of its selected weight layers and the
 * regularisers on them (or on its BatchNormalization scales), put into the training request; and the report's figures
 * before and after.
 */
public final class SparsityPlan {
    private final GradualPruning pruning;
    private final List<Regularizer> regularizers;
    private final List<RegularisedTensor> regularised;
    private final Map<String, Double> sparsityBefore;
    private final Parameters parameters;

    /** One regularised initializer, how its units are grouped for the report, and the distribution before training. */
    private record RegularisedTensor(String name, String kind, int axis, MagnitudeDistribution before) {
    }

    private SparsityPlan(GradualPruning pruning, List<Regularizer> regularizers, List<RegularisedTensor> regularised,
            Map<String, Double> sparsityBefore, Parameters parameters) {
        this.pruning = pruning;
        this.regularizers = regularizers;
        this.regularised = regularised;
        this.sparsityBefore = sparsityBefore;
        this.parameters = parameters;
    }

    /**
     * The plan for {@code model} (the float training graph), or empty when no sparsity parameter is given.
     *
     * @param batches batches per epoch of the run
     * @throws CondenseException INVALID_PARAMETER when the target is below the model's own sparsity or slimming finds no
     *     BatchNormalization; NOTHING_TO_COMPRESS when no weight layer is selected
     */
    public static Optional<SparsityPlan> of(OnnxModel model, Parameters parameters, int epochs, int batches) {
        boolean pruning = SparsityParameters.pruning(parameters);
        if (!pruning && !SparsityParameters.regularising(parameters)) {
            return Optional.empty();
        }
        List<LayerSelection.Candidate> candidates = List.of();
        Map<String, Double> sparsityBefore = new LinkedHashMap<>();
        if (pruning || parameters.getDouble(SparsityParameters.L1) > 0 || parameters.getDouble(SparsityParameters.GROUP_LASSO) > 0) {
            LayerSelection.Result selection = SelectionParameters.layerSelection(parameters, new ArrayList<>())
                    .select(model, model.weightLayers());
            candidates = selection.candidates();
            if (candidates.isEmpty()) {
                throw new CondenseException(ErrorCode.NOTHING_TO_COMPRESS, "finetune's sparsity parameters found no float Conv, Gemm "
                        + "or MatMul weight to work on" + (selection.skipped().isEmpty() ? " (the model has none)"
                                : ": " + selection.skippedReasons()) + "; lower min_elements or drop exclude");
            }
            for (LayerSelection.Candidate candidate : candidates) {
                sparsityBefore.put(candidate.weightName(), zeroShare(model.tensor(candidate.weightName()).toFloatArray()));
            }
        }
        GradualPruning gradual = pruning ? gradualPruning(model, parameters, candidates, epochs, batches) : null;
        List<Regularizer> regularizers = new ArrayList<>();
        List<RegularisedTensor> regularised = new ArrayList<>();
        double l1 = parameters.getDouble(SparsityParameters.L1);
        if (l1 > 0) {
            Set<String> names = new LinkedHashSet<>();
            candidates.forEach(candidate -> names.add(candidate.weightName()));
            regularizers.add(new Regularizer.L1(l1, names));
            names.forEach(name -> regularised.add(tensor(model, name, "weights", -1)));
        }
        double lasso = parameters.getDouble(SparsityParameters.GROUP_LASSO);
        if (lasso > 0) {
            Map<String, Integer> axes = new LinkedHashMap<>();
            for (LayerSelection.Candidate candidate : candidates) {
                if (candidate.sameOutputChannelAxis()) {
                    axes.put(candidate.weightName(), candidate.outputChannelAxis());
                }
            }
            regularizers.add(new Regularizer.GroupLasso(lasso, axes));
            axes.forEach((name, axis) -> regularised.add(tensor(model, name, "filters", axis)));
        }
        double slimming = parameters.getDouble(SparsityParameters.SLIMMING);
        if (slimming > 0) {
            Set<String> scales = batchNormScales(model);
            if (scales.isEmpty()) {
                throw new CondenseException(ErrorCode.INVALID_PARAMETER, "slimming puts an L1 penalty on BatchNormalization scales and "
                        + "the model has no BatchNormalization with a float32 scale initializer; use group_lasso (output filters) "
                        + "or l1 (weights) instead");
            }
            regularizers.add(new Regularizer.L1(slimming, scales));
            scales.forEach(name -> regularised.add(tensor(model, name, "bn_scale", -1)));
        }
        return Optional.of(new SparsityPlan(gradual, regularizers, regularised, sparsityBefore, parameters));
    }

    private static GradualPruning gradualPruning(OnnxModel model, Parameters parameters, List<LayerSelection.Candidate> candidates,
            int epochs, int batches) {
        String patternText = parameters.getString(SparsityParameters.PATTERN);
        NmPattern pattern = patternText.isBlank() ? null : NmPattern.parse(patternText);
        List<GradualPruning.Layer> layers = new ArrayList<>();
        long zeros = 0;
        long total = 0;
        for (LayerSelection.Candidate candidate : candidates) {
            float[] values = model.tensor(candidate.weightName()).toFloatArray();
            zeros += Math.round(zeroShare(values) * values.length);
            total += values.length;
            layers.add(new GradualPruning.Layer(candidate.weightName(),
                    pattern == null ? null : WeightMatrix.of(candidate.layers().get(0), candidate.shape()), values.length));
        }
        double initial = total == 0 ? 0 : (double) zeros / total;
        double target = pattern == null ? parameters.getDouble(SparsityParameters.SPARSITY) : Math.max(initial, pattern.sparsity());
        if (target < initial) {
            throw new CondenseException(ErrorCode.INVALID_PARAMETER, String.format(java.util.Locale.ROOT, "Invalid value '%s' for "
                    + "parameter 'sparsity': the selected weights are already %.4f sparse and gradual pruning only raises the "
                    + "sparsity; give sparsity above %.4f", parameters.getString(SparsityParameters.SPARSITY), initial, initial));
        }
        long last = (long) epochs * batches - 1;
        long endStep = Math.min(last, Math.round(SparsityParameters.end(parameters) * batches));
        long startStep = Math.min(endStep, Math.round(parameters.getDouble(SparsityParameters.START) * batches));
        long frequency = Math.max(1, Math.round(parameters.getDouble(SparsityParameters.FREQUENCY) * batches));
        SparsitySchedule schedule = new SparsitySchedule(parameters.getString(SparsityParameters.SCHEDULE), initial, target,
                startStep, endStep, frequency);
        return new GradualPruning(layers, schedule, parameters.getString(SparsityParameters.SCOPE).equals("global"), pattern);
    }

    private static RegularisedTensor tensor(OnnxModel model, String name, String kind, int axis) {
        return new RegularisedTensor(name, kind, axis, MagnitudeDistribution.of(model.tensor(name), axis));
    }

    /** Every BatchNormalization's scale (input 1) that is a float32 initializer read by no other node. */
    static Set<String> batchNormScales(OnnxModel model) {
        Map<String, Integer> readers = new LinkedHashMap<>();
        for (NodeProto node : model.nodes()) {
            for (String input : node.getInputList()) {
                readers.merge(input, 1, Integer::sum);
            }
        }
        Set<String> scales = new LinkedHashSet<>();
        for (NodeProto node : model.nodes()) {
            if (node.getOpType().equals("BatchNormalization") && node.getInputCount() >= 2) {
                String scale = node.getInput(1);
                boolean floatInitializer = model.initializer(scale).map(t -> t.getDataType() == TensorProto.DataType.FLOAT_VALUE)
                        .orElse(false);
                if (floatInitializer && readers.get(scale) == 1) {
                    scales.add(scale);
                }
            }
        }
        return scales;
    }

    /** Puts the masks and the regularisers into the request. */
    public void configure(TrainingRequest.Builder request) {
        if (pruning != null) {
            request.maskUpdates(pruning);
        }
        regularizers.forEach(request::regularizer);
    }

    /** The gradual pruning, if asked for (for progress: its current sparsity). */
    public Optional<GradualPruning> pruning() {
        return Optional.ofNullable(pruning);
    }

    /** The report's sparsity figures, measured on the trained (float) model. */
    public void report(OnnxModel trained, Report.Builder report) {
        if (pruning != null) {
            SparsitySchedule schedule = pruning.schedule();
            String pattern = parameters.getString(SparsityParameters.PATTERN);
            report.put("sparsity_target", schedule.target());
            if (!pattern.isBlank()) {
                report.put("pattern", pattern.trim());
            } else {
                report.put("sparsity_scope", parameters.getString(SparsityParameters.SCOPE));
            }
            report.put("sparsity_schedule", schedule.kind()).put("sparsity_start", parameters.getDouble(SparsityParameters.START))
                    .put("sparsity_end", SparsityParameters.end(parameters)).put("sparsity_frequency_batches", schedule.frequency())
                    .put("mask_updates", pruning.updates());
            List<Map<String, Object>> layers = new ArrayList<>();
            long zerosBefore = 0;
            long zerosAfter = 0;
            long total = 0;
            for (GradualPruning.Layer layer : pruning.layers()) {
                double after = zeroShare(trained.tensor(layer.name()).toFloatArray());
                double before = sparsityBefore.get(layer.name());
                Map<String, Object> row = new LinkedHashMap<>();
                row.put("name", layer.name());
                row.put("elements", layer.elements());
                row.put("sparsity_before", before);
                row.put("sparsity_after", after);
                layers.add(row);
                zerosBefore += Math.round(before * layer.elements());
                zerosAfter += Math.round(after * layer.elements());
                total += layer.elements();
            }
            report.put("sparsity_before", (double) zerosBefore / total).put("sparsity_after", (double) zerosAfter / total)
                    .put("sparsity_layers", layers);
        }
        if (!regularizers.isEmpty()) {
            for (String name : List.of(SparsityParameters.L1, SparsityParameters.GROUP_LASSO, SparsityParameters.SLIMMING)) {
                if (parameters.getDouble(name) > 0) {
                    report.put(name, parameters.getDouble(name));
                }
            }
            List<Map<String, Object>> rows = new ArrayList<>();
            for (RegularisedTensor tensor : regularised) {
                Map<String, Object> row = new LinkedHashMap<>();
                row.put("name", tensor.name());
                row.put("kind", tensor.kind());
                row.put("before", tensor.before().toMap());
                row.put("after", MagnitudeDistribution.of(trained.tensor(tensor.name()), tensor.axis()).toMap());
                rows.add(row);
            }
            report.put("regularised", rows);
        }
    }

    /** The share of exact zeros. */
    static double zeroShare(float[] values) {
        long zeros = 0;
        for (float value : values) {
            zeros += value == 0f ? 1 : 0;
        }
        return values.length == 0 ? 0 : (double) zeros / values.length;
    }
}
