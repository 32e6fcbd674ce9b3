package io.condense.plugin.quantization;

import io.condense.sdk.context.StepContext;
import io.condense.sdk.data.Dataset;
import io.condense.sdk.eval.EvaluationRequest;
import io.condense.sdk.eval.EvaluationResult;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.quantization.ActivationCalibrator;
import io.condense.sdk.technique.Parameters;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * Which layers to keep in float so that quantization stays within {@code max_drop} points: the drop is measured with the host's
 * evaluator on the calibration samples, in top-1 accuracy points when the data has labels, else in points of top-1 agreement
 * with the float model (100 x (1 - agreement)). Starting from the fully quantized model, the layers are kept in float one at a
 * time, worst first (lowest output SQNR, else lowest weight SQNR, as the report ranks them), each step quantizing the model again
 * with those layers excluded, until the drop is within {@code max_drop} or every layer is float. Each step is one full
 * quantization (calibration included) and one evaluation: the cost grows with the number of layers that must stay float.
 */
final class Sensitivity {
    /** Drops are differences of sample fractions times 100: within this of max_drop counts as within (0.1 is 0.10000000000000009). */
    private static final double TOLERANCE = 1e-9;

    private Sensitivity() {
    }

    /** The report entry: metric, max_drop, the drop with every layer quantized, the steps, and the layers to keep in float. */
    static Map<String, Object> analyse(OnnxModel original, OnnxModel quantized, List<String> rankedWeights, double maxDrop, Dataset data,
            int samples, Function<List<String>, OnnxModel> quantizeExcluding, StepContext context) {
        int count = Math.min(samples, data.size());
        boolean labelled = data.labels().isPresent();
        Map<String, Object> entry = new LinkedHashMap<>();
        entry.put("metric", labelled ? "accuracy_points" : "agreement_points");
        entry.put("max_drop", maxDrop);
        entry.put("samples", count);
        double drop = drop(original, quantized, data, count, labelled, context);
        entry.put("drop_all_quantized", drop);
        List<String> keep = new ArrayList<>();
        List<Map<String, Object>> steps = new ArrayList<>();
        for (int next = 0; drop > maxDrop + TOLERANCE && next < rankedWeights.size(); next++) {
            context.checkCancelled();
            keep.add(rankedWeights.get(next));
            OnnxModel candidate = keep.size() == rankedWeights.size() ? original : quantizeExcluding.apply(List.copyOf(keep));
            drop = drop(original, candidate, data, count, labelled, context);
            Map<String, Object> step = new LinkedHashMap<>();
            step.put("keep_float", List.copyOf(keep));
            step.put("drop", drop);
            steps.add(step);
        }
        entry.put("steps", steps);
        entry.put("within_max_drop", drop <= maxDrop + TOLERANCE);
        entry.put("keep_float", keep);
        entry.put("drop", drop);
        return entry;
    }

    private static double drop(OnnxModel original, OnnxModel candidate, Dataset data, int count, boolean labelled, StepContext context) {
        EvaluationResult result = ActivationCalibrator.evaluator(context).compare(original, candidate, EvaluationRequest.of(data, count));
        if (labelled && result.accuracyBefore().isPresent() && result.accuracyAfter().isPresent()) {
            return 100 * (result.accuracyBefore().getAsDouble() - result.accuracyAfter().getAsDouble());
        }
        return 100 * (1 - result.top1Agreement());
    }

    /** The parameters with {@code exclude} extended by the given weight names and the sensitivity analysis switched off. */
    static Map<String, String> excluding(Parameters parameters, List<String> weights, String excludeName, String sensitivityName) {
        Map<String, String> values = new LinkedHashMap<>();
        for (Map.Entry<String, String> value : parameters.asMap().entrySet()) {
            if (parameters.isExplicit(value.getKey())) {
                values.put(value.getKey(), value.getValue());
            }
        }
        List<String> patterns = new ArrayList<>(parameters.getStringList(excludeName));
        patterns.addAll(weights);
        values.put(excludeName, String.join(",", patterns));
        values.put(sensitivityName, "false");
        return values;
    }
}
