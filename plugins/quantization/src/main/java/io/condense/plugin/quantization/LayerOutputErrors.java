package io.condense.plugin.quantization;

import static java.util.Objects.requireNonNull;

import io.condense.sdk.context.StepContext;
import io.condense.sdk.data.Dataset;
import io.condense.sdk.data.NdArray;
import io.condense.sdk.eval.Evaluator;
import io.condense.sdk.eval.InferenceSession;
import io.condense.sdk.eval.ValueSpec;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.quantization.ActivationCalibrator;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The SQNR of named values of a quantized model against the same values of the float model, over calibration samples: both
 * models run one sample at a time on copies that expose those values as graph outputs, and only running sums are kept. Exposed
 * values are graph outputs, so ONNX Runtime cannot fuse across them: these are the errors of the QDQ arithmetic, not of the fused
 * integer kernels (the report's {@code output_sqnr_db} is measured on the fused model).
 */
final class LayerOutputErrors {
    private LayerOutputErrors() {
    }

    /** Value name to 10 log10(sum reference^2 / sum (reference - quantized)^2) over the first {@code samples} samples. */
    static Map<String, Double> sqnrDb(OnnxModel reference, OnnxModel quantized, Collection<String> values, Dataset data, int samples,
            StepContext context) {
        requireNonNull(values, "values is null");
        Evaluator evaluator = ActivationCalibrator.evaluator(context);
        int count = Math.min(samples, data.size());
        Map<String, double[]> sums = new LinkedHashMap<>();
        for (String value : values) {
            sums.put(value, new double[2]);
        }
        try (InferenceSession before = evaluator.open(ActivationCalibrator.exposing(reference, values));
                InferenceSession after = evaluator.open(ActivationCalibrator.exposing(quantized, values))) {
            ValueSpec input = ActivationCalibrator.singleInput(before);
            for (int sample = 0; sample < count; sample++) {
                context.checkCancelled();
                NdArray feed = ActivationCalibrator.sampleInput(data, sample, input);
                Map<String, NdArray> expected = before.run(Map.of(input.name(), feed));
                Map<String, NdArray> actual = after.run(Map.of(input.name(), feed));
                for (Map.Entry<String, double[]> entry : sums.entrySet()) {
                    NdArray left = entry.getKey().equals(input.name()) ? feed : expected.get(entry.getKey());
                    NdArray right = entry.getKey().equals(input.name()) ? feed : actual.get(entry.getKey());
                    if (left == null || right == null || left.size() != right.size()) {
                        continue;
                    }
                    float[] a = left.toFloatArray();
                    float[] b = right.toFloatArray();
                    double signal = 0;
                    double noise = 0;
                    for (int i = 0; i < a.length; i++) {
                        double difference = (double) a[i] - b[i];
                        signal += (double) a[i] * a[i];
                        noise += difference * difference;
                    }
                    entry.getValue()[0] += signal;
                    entry.getValue()[1] += noise;
                }
            }
        }
        Map<String, Double> result = new LinkedHashMap<>();
        for (Map.Entry<String, double[]> entry : sums.entrySet()) {
            double[] sum = entry.getValue();
            result.put(entry.getKey(), sum[1] == 0 ? (sum[0] == 0 ? 0.0 : Double.POSITIVE_INFINITY) : 10 * Math.log10(sum[0] / sum[1]));
        }
        return result;
    }
}
