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
import io.condense.sdk.tensor.DataType;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * The SQNR of named values of a quantized model against the same values of the float model, over calibration samples. Both
 * models run as one graph ({@link SqnrGraph}) whose outputs are, per value, the sum of the float value's squares and of the
 * squared difference: ONNX Runtime computes them, and only those scalars reach Java, where running sums are kept (several
 * samples per run when the input's batch dimension is dynamic, two runs at once). The quantized copy's measured values feed
 * those differences, so the runtime keeps them as values of their own: these are the errors of the QDQ arithmetic as written.
 * The same pass can also measure the SQNR of the graph outputs of the quantized model as it is (fused, in a session of its
 * own) against the float outputs of the same runs.
 */
final class LayerOutputErrors {
    /** Runs of the measuring graph at once, on as many threads (with the fused model's runs beside them). */
    private static final int RUNS_AT_ONCE = 2;

    private LayerOutputErrors() {
    }

    /**
     * @param layers value name to 10 log10(sum reference^2 / sum (reference - quantized)^2)
     * @param outputSqnrDb the same over every float graph output of the quantized model as it is, NaN when not measured
     * @param samples the samples measured
     */
    record Measured(Map<String, Double> layers, double outputSqnrDb, int samples) {
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
        List<String> graphOutputs = new ArrayList<>();
        if (outputs) {
            for (ValueInfoProto output : reference.outputs()) {
                if (output.getType().getTensorType().getElemType() == DataType.FLOAT.onnxCode()) {
                    graphOutputs.add(output.getName());
                }
            }
        }
        SqnrGraph paired = SqnrGraph.of(reference, quantized, values, graphOutputs);
        Map<String, double[]> sums = new LinkedHashMap<>();
        for (String value : paired.measured()) {
            sums.put(value, new double[2]);
        }
        double[] outputSums = new double[2];
        ExecutorService pool = Executors.newFixedThreadPool(RUNS_AT_ONCE, runnable -> {
            Thread thread = new Thread(runnable, "condense-layer-errors");
            thread.setDaemon(true);
            return thread;
        });
        try (InferenceSession both = evaluator.open(paired.model(), RUNS_AT_ONCE);
                InferenceSession fused = outputs ? evaluator.open(quantized, RUNS_AT_ONCE) : null) {
            ValueSpec input = ActivationCalibrator.singleInput(both);
            boolean batchable = ActivationCalibrator.batchable(input);
            int batch = 1;
            int sample = 0;
            // the first run alone, then (dynamic batch) one run of a full batch alone: a graph that fixes its batch somewhere
            // refuses it, and the rest runs one sample per run; then up to two batches in flight, summed in sample order
            Deque<Batch> inFlight = new ArrayDeque<>();
            boolean probing = true;
            while (sample < count || !inFlight.isEmpty()) {
                while (sample < count && inFlight.size() < (probing ? 1 : RUNS_AT_ONCE)) {
                    context.checkCancelled();
                    int size = Math.min(batch, count - sample);
                    Map<String, NdArray> feeds = Map.of(input.name(), ActivationCalibrator.batchInput(data, sample, size, input));
                    inFlight.add(new Batch(sample, size, pool.submit(() -> both.run(feeds)),
                            fused == null ? null : pool.submit(() -> fused.run(feeds))));
                    sample += size;
                }
                Batch next = inFlight.poll();
                Map<String, NdArray> expected;
                Map<String, NdArray> actual;
                try {
                    expected = await(next.both(), false);
                    actual = next.fused() == null ? Map.of() : await(next.fused(), false);
                } catch (CondenseException e) {
                    await(next.fused(), true);
                    if (next.size() == 1 || !probing) {
                        throw e;
                    }
                    batchable = false;
                    batch = 1;
                    sample = next.first();
                    continue;
                }
                if (next.first() == 0 && batchable) {
                    batch = ActivationCalibrator.batchSize(perSampleBytes(paired, expected, next.size()));
                }
                probing = next.first() == 0 && batch > 1;
                for (Map.Entry<String, double[]> entry : sums.entrySet()) {
                    String value = entry.getKey();
                    entry.getValue()[0] += expected.get(SqnrGraph.SIGNAL + value).getFloat(0);
                    if (!paired.isInput(value)) {
                        entry.getValue()[1] += expected.get(SqnrGraph.NOISE + value).getFloat(0);
                    }
                }
                for (String name : graphOutputs) {
                    accumulate(expected.get(name), actual.get(name), outputSums);
                }
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

    /** Bytes a sample's run computes for the measured values (both models' copies) and the float outputs it returns. */
    private static long perSampleBytes(SqnrGraph paired, Map<String, NdArray> outputs, int samples) {
        long elements = 0;
        for (String value : paired.measured()) {
            NdArray size = outputs.get(SqnrGraph.SIZE + value);
            elements += size == null ? 0 : 2 * size.getLong(0);
        }
        for (Map.Entry<String, NdArray> output : outputs.entrySet()) {
            if (!output.getKey().startsWith("condense.sqnr.")) {
                elements += output.getValue().size();
            }
        }
        return 4 * elements / Math.max(1, samples);
    }

    /** One batch in flight: its samples, the measuring run and the fused run (null when the output SQNR is not measured). */
    private record Batch(int first, int size, Future<Map<String, NdArray>> both, Future<Map<String, NdArray>> fused) {
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
