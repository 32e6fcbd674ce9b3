package io.condense.plugin.quantization;

import io.condense.sdk.calibration.LayerInputGram;
import io.condense.sdk.calibration.LayerInputGrams;
import io.condense.sdk.context.StepContext;
import io.condense.sdk.data.Dataset;
import io.condense.sdk.model.LayerSelection;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.model.WeightLayer;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.ejml.data.DMatrixRMaj;

/**
 * GPTQ's Hessians {@code H = 2 X^T X / n} over the inputs of all layers reading each weight, one distinct input at a
 * time: the SDK's {@link LayerInputGrams} runs the calibration data through the model once and keeps in memory only the
 * Grams that fit its budget (the rest of the inputs spilled to the scratch folder), so the step's memory is about one
 * layer's Hessian and its factor plus a fixed budget, whatever the number of layers. Consecutive weights reading the same
 * input (q, k, v; gate, up) share one Hessian and one Cholesky factor. Columns are in {@link LayerInputGram}'s order,
 * which is {@link WeightMatrix}'s (the stored weight's).
 */
final class LayerHessians implements AutoCloseable {
    private final LayerInputGrams grams;
    private final Map<String, Integer> indices;
    private final StepContext context;
    private Integer last;
    private DMatrixRMaj hessian;
    private Gptq.Factor factor;

    private LayerHessians(LayerInputGrams grams, Map<String, Integer> indices, StepContext context) {
        this.grams = grams;
        this.indices = indices;
        this.context = context;
    }

    /** Runs the calibration pass (progress 0 to 0.5) for the weights of {@code measured}, in that order. */
    static LayerHessians measure(OnnxModel model, List<LayerSelection.Candidate> measured, Dataset data, int samples,
            StepContext context) {
        Map<String, Integer> indices = new LinkedHashMap<>();
        List<List<WeightLayer>> layers = new ArrayList<>();
        for (LayerSelection.Candidate candidate : measured) {
            indices.put(candidate.weightName(), layers.size());
            layers.add(candidate.layers());
        }
        return new LayerHessians(LayerInputGrams.measure(model, layers, data, samples, context, 0.0, 0.5, "GPTQ"), indices, context);
    }

    /** Whether the weight's inputs were measured (GPTQ took it), without building anything. */
    boolean measured(String weight) {
        return indices.containsKey(weight);
    }

    /** The weight's Hessian, or null for a weight that was not measured (GPTQ refused it). */
    DMatrixRMaj hessian(String weight) {
        Integer index = indices.get(weight);
        if (index == null) {
            return null;
        }
        if (index.equals(last)) {
            return hessian;
        }
        List<LayerInputGram> wanted = grams.inputsOf(index, context);
        if (last == null || !grams.sameInputs(last, index)) {
            hessian = null;
            factor = null;
            hessian = hessian(wanted);
        }
        last = index;
        // the Grams served are no longer needed once their Hessian is built: freed before GPTQ factors it
        grams.releaseServed();
        return hessian;
    }

    /** The upper Cholesky factor of the weight's damped inverse Hessian, or null when it was not measured. */
    Gptq.Factor factor(String weight, int columns, String layerNames) {
        DMatrixRMaj h = hessian(weight);
        if (h != null && factor == null) {
            factor = Gptq.factor(h, columns, layerNames);
        }
        return h == null ? null : factor;
    }

    int spilledInputs() {
        return grams.spilledInputs();
    }

    long spilledBytes() {
        return grams.spilledBytes();
    }

    @Override
    public void close() {
        hessian = null;
        factor = null;
        grams.close();
    }

    /** {@code 2 / n} times the sum of the grams (n: their rows together). */
    static DMatrixRMaj hessian(List<LayerInputGram> grams) {
        int columns = grams.get(0).columns();
        double[] sum = grams.get(0).gram(0).clone();
        long rows = grams.get(0).rows();
        for (LayerInputGram gram : grams.subList(1, grams.size())) {
            double[] values = gram.gram(0);
            for (int i = 0; i < sum.length; i++) {
                sum[i] += values[i];
            }
            rows += gram.rows();
        }
        double scale = rows == 0 ? 0 : 2.0 / rows;
        for (int i = 0; i < sum.length; i++) {
            sum[i] *= scale;
        }
        return DMatrixRMaj.wrap(columns, columns, sum);
    }
}
