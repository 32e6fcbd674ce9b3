package io.condense.plugin.pruning;

import io.condense.sdk.calibration.LayerInputGram;
import io.condense.sdk.context.StepContext;
import io.condense.sdk.data.Dataset;
import io.condense.sdk.eval.EvaluationRequest;
import io.condense.sdk.eval.EvaluationResult;
import io.condense.sdk.eval.Evaluator;
import io.condense.sdk.model.LayerSelection;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.quantization.ActivationCalibrator;
import io.condense.sdk.sparsity.WeightMatrix;
import io.condense.sdk.tensor.Tensor;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * How much each prunable layer matters: every layer alone is pruned (with the step's method) to a few
 * sparsities, the others left dense, and the model is measured with the host's evaluator: accuracy when the
 * data has labels, top-1 agreement with the original model otherwise.
 */
final class SensitivityAnalysis {

    /** One layer's measurements: {@code metrics[i]} at {@code sparsities[i]}. */
    record Curve(String name, String weight, long elements, double[] sparsities, double[] metrics) {
    }

    /**
     * @param metric {@code accuracy} or {@code top1_agreement}
     * @param baseline the metric of the unpruned model (its accuracy, or 1 for agreement)
     */
    record Table(String metric, double baseline, int samples, List<Curve> curves) {

        /** The table as report values: one entry per layer, the metric by sparsity. */
        List<Map<String, Object>> toReport() {
            List<Map<String, Object>> rows = new ArrayList<>();
            for (Curve curve : curves) {
                Map<String, Object> row = new LinkedHashMap<>();
                row.put("name", curve.name());
                row.put("weight", curve.weight());
                row.put("elements", curve.elements());
                Map<String, Object> values = new LinkedHashMap<>();
                for (int i = 0; i < curve.sparsities().length; i++) {
                    values.put(String.format(Locale.ROOT, "%.2f", curve.sparsities()[i]), curve.metrics()[i]);
                }
                row.put(metric, values);
                rows.add(row);
            }
            return rows;
        }
    }

    private SensitivityAnalysis() {
    }

    static Table measure(OnnxModel source, List<LayerSelection.Candidate> candidates, List<WeightMatrix> matrices,
            List<float[]> weights, LayerPruner.Method method, List<List<LayerInputGram>> hessians, double[] sparsities,
            Dataset data, int samples, StepContext context) {
        Evaluator evaluator = ActivationCalibrator.evaluator(context);
        EvaluationRequest request = EvaluationRequest.of(data, samples);
        boolean labelled = data.labels().isPresent();
        double baseline = 1.0;
        int measuredSamples = 0;
        List<Curve> curves = new ArrayList<>();
        int total = candidates.size() * sparsities.length;
        int done = 0;
        for (int i = 0; i < candidates.size(); i++) {
            LayerSelection.Candidate candidate = candidates.get(i);
            double[] metrics = new double[sparsities.length];
            for (int s = 0; s < sparsities.length; s++) {
                context.checkCancelled();
                context.progress(0.25 + 0.25 * done++ / total, String.format(Locale.ROOT, "sensitivity of %s at sparsity %.2f",
                        candidate.layerNames(), sparsities[s]));
                float[] pruned = LayerPruner.prune(weights.get(i), matrices.get(i), method, hessians == null ? null : hessians.get(i),
                        sparsities[s], null);
                OnnxModel trial = source.edit().putInitializer(Tensor.fromFloats(candidate.weightName(),
                        io.condense.sdk.tensor.DataType.FLOAT, candidate.shape(), pruned).toProto()).build();
                EvaluationResult result = evaluator.compare(source, trial, request);
                measuredSamples = result.samples();
                if (labelled && result.accuracyAfter().isPresent()) {
                    baseline = result.accuracyBefore().orElse(1.0);
                    metrics[s] = result.accuracyAfter().getAsDouble();
                } else {
                    metrics[s] = result.top1Agreement();
                }
            }
            curves.add(new Curve(candidate.layerNames(), candidate.weightName(), candidate.elements(), sparsities.clone(), metrics));
        }
        return new Table(labelled ? "accuracy" : "top1_agreement", baseline, measuredSamples, curves);
    }
}
