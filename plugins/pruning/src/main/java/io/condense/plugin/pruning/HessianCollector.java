package io.condense.plugin.pruning;

import io.condense.sdk.context.StepContext;
import io.condense.sdk.data.Dataset;
import io.condense.sdk.data.NdArray;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.eval.Evaluator;
import io.condense.sdk.eval.InferenceSession;
import io.condense.sdk.eval.ValueSpec;
import io.condense.sdk.model.LayerSelection;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.model.WeightLayer;
import io.condense.sdk.quantization.ActivationCalibrator;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Runs the calibration samples through the model, one at a time, with every pruned layer's input exposed as a
 * graph output, and accumulates each layer's X^T X ({@link LayerHessian}). One pass over the data for all
 * layers, on the original model.
 */
final class HessianCollector {
    private HessianCollector() {
    }

    /** One {@link LayerHessian} list per candidate (one entry per layer reading its weight), in candidate order. */
    static List<List<LayerHessian>> collect(OnnxModel model, List<LayerSelection.Candidate> candidates, List<WeightMatrix> matrices,
            Dataset data, int samples, StepContext context, double progressFrom, double progressTo) {
        List<List<LayerHessian>> hessians = new ArrayList<>();
        Set<String> values = new LinkedHashSet<>();
        for (int i = 0; i < candidates.size(); i++) {
            LayerSelection.Candidate candidate = candidates.get(i);
            List<LayerHessian> layers = new ArrayList<>();
            for (WeightLayer layer : candidate.layers()) {
                layers.add(new LayerHessian(layer, matrices.get(i), candidate.shape()));
                values.add(LayerHessian.inputName(layer));
            }
            hessians.add(layers);
        }
        Evaluator evaluator = ActivationCalibrator.evaluator(context);
        int count = Math.min(samples, data.size());
        try (InferenceSession session = evaluator.open(ActivationCalibrator.exposing(model, values))) {
            ValueSpec input = ActivationCalibrator.singleInput(session);
            for (int sample = 0; sample < count; sample++) {
                context.checkCancelled();
                if (sample % 32 == 0) {
                    context.progress(progressFrom + (progressTo - progressFrom) * sample / count, "X^T X of the inputs of "
                            + candidates.get(0).layerNames() + (candidates.size() > 1 ? " and " + (candidates.size() - 1) + " more layers" : "")
                            + ": calibration sample " + (sample + 1) + " of " + count);
                }
                NdArray feed = ActivationCalibrator.sampleInput(data, sample, input);
                Map<String, NdArray> outputs = new LinkedHashMap<>(session.run(Map.of(input.name(), feed)));
                outputs.put(input.name(), feed);
                for (List<LayerHessian> layers : hessians) {
                    for (LayerHessian hessian : layers) {
                        String name = LayerHessian.inputName(hessian.layer());
                        NdArray activation = outputs.get(name);
                        if (activation == null) {
                            throw new CondenseException(ErrorCode.INTERNAL_ERROR, "the runtime returned no value '" + name
                                    + "' although it was added as a graph output");
                        }
                        hessian.add(activation);
                    }
                }
            }
        }
        return hessians;
    }
}
