package io.condense.plugin.quantization;

import static java.util.Objects.requireNonNull;

import ai.onnx.proto.OnnxMl.ValueInfoProto;
import io.condense.sdk.context.StepContext;
import io.condense.sdk.data.Dataset;
import io.condense.sdk.data.NdArray;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.eval.Evaluator;
import io.condense.sdk.eval.InferenceSession;
import io.condense.sdk.eval.ValueSpec;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.quantization.ActivationCalibrator;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * The SQNR of named values of a quantized model against the same values of the float model, over calibration samples: both
 * models run on copies that expose those values as graph outputs (several samples per run when the input's batch dimension is
 * dynamic), and only running sums are kept. Exposed values are graph outputs, so ONNX Runtime cannot fuse across them: these are
 * the errors of the QDQ arithmetic, not of the fused integer kernels. The same pass can also measure the SQNR of the graph
 * outputs of the quantized model as it is (fused), against the float outputs of the exposed float run, so the float model runs
 * once for both figures. The float run and the quantized runs of a batch go at once, the quantized ones on two helper threads.
 */
final class LayerOutputErrors {
    private LayerOutputErrors() {
    }

    /**
     * @param layers value name to 10 log10(sum reference^2 / sum (reference - quantized)^2)
     * @param outputSqnrDb the same over every float graph output of the quantized model as it is, NaN when not measured
     * @param samples the samples measured
     */
    record Measured(Map<String, Double> layers, double outputSqnrDb, int samples) {
    }

    /** Value name to 10 log10(sum reference^2 / sum (reference - quantized)^2) over the first {@code samples} samples. */
    static Map<String, Double> sqnrDb(OnnxModel reference, OnnxModel quantized, Collection<String> values, Dataset data, int samples,
            StepContext context) {
        return measure(reference, quantized, values, false, data, samples, context).layers();
    }

    /**
     * The per-value SQNR and, with {@code outputs}, the output SQNR of {@code quantized} as it is, over the first {@code samples}
     * samples of the data.
     */
    static Measured measure(OnnxModel reference, OnnxModel quantized, Collection<String> values, boolean outputs, Dataset data,
            int samples, StepContext context) {
        requireNonNull(values, "values is null");
        Evaluator evaluator = ActivationCalibrator.evaluator(context);
        int count = Math.min(samples, data.size());
        Map<String, double[]> sums = new LinkedHashMap<>();
        for (String value : values) {
            sums.put(value, new double[2]);
        }
        List<String> graphOutputs = new ArrayList<>();
        for (ValueInfoProto output : reference.outputs()) {
            graphOutputs.add(output.getName());
        }
        double[] outputSums = new double[2];
        ExecutorService pool = Executors.newFixedThreadPool(2, runnable -> {
            Thread thread = new Thread(runnable, "condense-layer-errors");
            thread.setDaemon(true);
            return thread;
        });
        // the float run here and the quantized ones on the pool go at the same time
        int runsAtOnce = outputs ? 3 : 2;
        try (InferenceSession before = evaluator.open(ActivationCalibrator.exposing(reference, values), runsAtOnce);
                InferenceSession after = evaluator.open(ActivationCalibrator.exposing(quantized, values), runsAtOnce);
                InferenceSession fused = outputs ? evaluator.open(quantized, runsAtOnce) : null) {
            ValueSpec input = ActivationCalibrator.singleInput(before);
            boolean batchable = ActivationCalibrator.batchable(input);
            int batch = 1;
            int sample = 0;
            while (sample < count) {
                context.checkCancelled();
                int size = Math.min(batch, count - sample);
                NdArray feed = ActivationCalibrator.batchInput(data, sample, size, input);
                Map<String, NdArray> expected;
                Map<String, NdArray> actual;
                Map<String, NdArray> actualOutputs;
                try {
                    // the quantized runs on helper threads while the float one runs here
                    Map<String, NdArray> feeds = Map.of(input.name(), feed);
                    Future<Map<String, NdArray>> afterRun = pool.submit(() -> after.run(feeds));
                    Future<Map<String, NdArray>> fusedRun = fused == null ? null : pool.submit(() -> fused.run(feeds));
                    CondenseException failure = null;
                    Map<String, NdArray> floatOutputs = null;
                    try {
                        floatOutputs = before.run(feeds);
                    } catch (CondenseException e) {
                        failure = e;
                    }
                    Map<String, NdArray> quantizedOutputs = null;
                    Map<String, NdArray> fusedOutputs = Map.of();
                    try {
                        quantizedOutputs = await(afterRun);
                        fusedOutputs = fusedRun == null ? Map.of() : await(fusedRun);
                    } catch (CondenseException e) {
                        failure = failure != null ? failure : e;
                    }
                    if (failure != null) {
                        await(fusedRun, true);
                        throw failure;
                    }
                    expected = floatOutputs;
                    actual = quantizedOutputs;
                    actualOutputs = fusedOutputs;
                } catch (CondenseException e) {
                    if (size == 1) {
                        throw e;
                    }
                    batchable = false;
                    batch = 1;
                    continue;
                }
                if (batchable && batch == 1) {
                    batch = ActivationCalibrator.batchSize(expected, size);
                }
                for (Map.Entry<String, double[]> entry : sums.entrySet()) {
                    NdArray left = entry.getKey().equals(input.name()) ? feed : expected.get(entry.getKey());
                    NdArray right = entry.getKey().equals(input.name()) ? feed : actual.get(entry.getKey());
                    accumulate(left, right, entry.getValue());
                }
                if (fused != null) {
                    for (String name : graphOutputs) {
                        accumulate(expected.get(name), actualOutputs.get(name), outputSums);
                    }
                }
                sample += size;
            }
        } finally {
            pool.shutdownNow();
        }
        Map<String, Double> result = new LinkedHashMap<>();
        for (Map.Entry<String, double[]> entry : sums.entrySet()) {
            double[] sum = entry.getValue();
            result.put(entry.getKey(), sum[1] == 0 ? (sum[0] == 0 ? 0.0 : Double.POSITIVE_INFINITY) : 10 * Math.log10(sum[0] / sum[1]));
        }
        double outputSqnr = !outputs ? Double.NaN : outputSums[1] == 0 ? Double.POSITIVE_INFINITY
                : 10 * Math.log10(outputSums[0] / outputSums[1]);
        return new Measured(result, outputSqnr, count);
    }

    private static Map<String, NdArray> await(Future<Map<String, NdArray>> run) {
        return await(run, false);
    }

    /** The run's outputs; with {@code quietly} only waits for it to end (null), whatever it threw. */
    private static Map<String, NdArray> await(Future<Map<String, NdArray>> run, boolean quietly) {
        if (run == null) {
            return null;
        }
        try {
            return run.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CondenseException(ErrorCode.CANCELLED, "the SQNR pass was interrupted");
        } catch (ExecutionException e) {
            if (quietly) {
                return null;
            }
            if (e.getCause() instanceof RuntimeException runtime) {
                throw runtime;
            }
            throw new CondenseException(ErrorCode.INTERNAL_ERROR, "the SQNR pass failed: " + e.getCause());
        }
    }

    /** Adds sum a^2 and sum (a - b)^2 of two float arrays of one size to {@code sums}; nothing when either is missing. */
    private static void accumulate(NdArray left, NdArray right, double[] sums) {
        if (left == null || right == null || left.size() != right.size()) {
            return;
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
        sums[0] += signal;
        sums[1] += noise;
    }
}
