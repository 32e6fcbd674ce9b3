package io.condense.plugin.quantization;

import io.condense.sdk.context.StepContext;
import io.condense.sdk.data.Dataset;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.model.WeightLayer;
import io.condense.sdk.quantization.StaticActivations;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.IdentityHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** Per-layer output SQNR in the report, and the report's layers ordered worst first. */
final class LayerRanking {
    private LayerRanking() {
    }

    /**
     * Adds {@code output_sqnr_db} (and {@code output_value}) to each layer's report entry: the SQNR of the layer's output in the
     * quantized model against the float model (after its Relu when the output is quantized there), over the first samples.
     * {@code reports} is parallel to {@code layers}; a weight read by several layers keeps its worst. With {@code outputSqnr}
     * the same pass also measures the graph outputs of {@code quantized} as it is (fused) and returns their SQNR, else NaN.
     */
    static double addOutputSqnr(OnnxModel reference, OnnxModel quantized, List<WeightLayer> layers, List<Map<String, Object>> reports,
            boolean afterRelu, Dataset data, int samples, boolean outputSqnr, StepContext context) {
        Set<String> values = new LinkedHashSet<>();
        List<String> points = new ArrayList<>();
        for (WeightLayer layer : layers) {
            String point = StaticActivations.outputPoint(reference, layer, !afterRelu);
            points.add(point);
            values.add(point);
        }
        LayerOutputErrors.Measured measured = LayerOutputErrors.measure(reference, quantized, values, outputSqnr, data, samples, context);
        Map<String, Double> sqnr = measured.layers();
        Map<Map<String, Object>, Boolean> seen = new IdentityHashMap<>();
        for (int i = 0; i < layers.size(); i++) {
            Map<String, Object> report = reports.get(i);
            Double value = sqnr.get(points.get(i));
            if (value == null) {
                continue;
            }
            if (seen.put(report, Boolean.TRUE) == null || value < (double) report.get("output_sqnr_db")) {
                report.put("output_value", points.get(i));
                report.put("output_sqnr_db", value);
            }
        }
        return measured.outputSqnrDb();
    }

    /** Sorts by output SQNR where measured, else by weight SQNR, lowest (worst) first. */
    static void sortWorstFirst(List<Map<String, Object>> layers) {
        layers.sort(Comparator.comparingDouble(LayerRanking::rank));
    }

    private static double rank(Map<String, Object> layer) {
        Object output = layer.get("output_sqnr_db");
        if (output instanceof Number number) {
            return number.doubleValue();
        }
        Object weight = layer.get("sqnr_db");
        return weight instanceof Number number ? number.doubleValue() : Double.POSITIVE_INFINITY;
    }
}
