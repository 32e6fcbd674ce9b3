package io.condense.sdk.quantization;

import static java.util.Objects.requireNonNull;

import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.TypeProto;
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
import io.condense.sdk.tensor.DataType;
import java.util.Arrays;
import java.util.Collection;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Records float activations of a model over calibration data into one {@link ActivationHistogram} per value. The
 * model is run through the host's evaluator on a copy whose graph outputs also expose the wanted values, several samples
 * per run when its input's first dimension is dynamic ({@link #batchSize}); each run's activations go into the histograms
 * on a helper thread while the next run computes, and are then dropped, so memory does not grow with the number of
 * samples: at most two runs' exposed values are held at once.
 */
public final class ActivationCalibrator {
    /** Most samples fed in one run. */
    public static final int MAX_BATCH = 64;
    /** Bytes of exposed values one batched run may return at most (a single sample may exceed it: it runs alone). */
    public static final long BATCH_BYTES = 32L << 20;

    private ActivationCalibrator() {
    }

    /**
     * The histograms of {@code values} (float tensors of the model: node outputs or graph inputs) over the first
     * {@code samples} samples of {@code data}.
     *
     * @throws CondenseException RUNTIME_FAILURE without an evaluator, INVALID_DATA when the samples do not fit the
     *         model's single input, CANCELLED when the job is cancelled between samples
     */
    public static Map<String, ActivationHistogram> calibrate(OnnxModel model, Collection<String> values, Dataset data, int samples,
            int bins, StepContext context) {
        return calibrate(model, values, Set.of(), data, samples, bins, context);
    }

    /**
     * As {@link #calibrate(OnnxModel, Collection, Dataset, int, int, StepContext)}, with {@code rangeOnly} (a subset of
     * {@code values}) recorded as {@link ActivationHistogram#rangeOnly()}: their minimum and maximum alone, for values whose
     * range is chosen by minmax.
     */
    public static Map<String, ActivationHistogram> calibrate(OnnxModel model, Collection<String> values, Set<String> rangeOnly,
            Dataset data, int samples, int bins, StepContext context) {
        requireNonNull(model, "model is null");
        requireNonNull(values, "values is null");
        requireNonNull(rangeOnly, "rangeOnly is null");
        requireNonNull(data, "data is null");
        requireNonNull(context, "context is null");
        if (samples < 1) {
            throw new IllegalArgumentException("samples must be at least 1, got " + samples);
        }
        Evaluator evaluator = evaluator(context);
        Map<String, ActivationHistogram> histograms = new LinkedHashMap<>();
        for (String value : values) {
            histograms.put(value, rangeOnly.contains(value) ? ActivationHistogram.rangeOnly() : new ActivationHistogram(bins));
        }
        int count = Math.min(samples, data.size());
        ExecutorService worker = Executors.newSingleThreadExecutor(runnable -> {
            Thread thread = new Thread(runnable, "condense-calibration-histograms");
            thread.setDaemon(true);
            return thread;
        });
        try (InferenceSession session = evaluator.open(exposing(model, values))) {
            ValueSpec input = singleInput(session);
            boolean batchable = batchable(input);
            int batch = 1;
            Future<?> pending = null;
            int sample = 0;
            int reported = -16;
            while (sample < count) {
                context.checkCancelled();
                if (sample - reported >= 16) {
                    context.progress((double) sample / count, "calibration sample " + (sample + 1) + " of " + count);
                    reported = sample;
                }
                int size = Math.min(batch, count - sample);
                NdArray feed = batchInput(data, sample, size, input);
                Map<String, NdArray> outputs;
                try {
                    outputs = session.run(Map.of(input.name(), feed));
                } catch (CondenseException e) {
                    if (size == 1) {
                        throw e;
                    }
                    // the graph fixes its batch somewhere (a Reshape to a constant shape): one sample per run from here on
                    batchable = false;
                    batch = 1;
                    continue;
                }
                if (batchable && batch == 1) {
                    batch = batchSize(outputs, size);
                }
                await(pending);
                int first = sample;
                pending = worker.submit(() -> record(histograms, outputs, feed, input.name(), first, size));
                sample += size;
            }
            await(pending);
        } finally {
            worker.shutdownNow();
        }
        return histograms;
    }

    private static void record(Map<String, ActivationHistogram> histograms, Map<String, NdArray> outputs, NdArray feed, String inputName,
            int first, int size) {
        for (Map.Entry<String, ActivationHistogram> entry : histograms.entrySet()) {
            NdArray activation = entry.getKey().equals(inputName) ? feed : outputs.get(entry.getKey());
            if (activation == null) {
                throw new CondenseException(ErrorCode.INTERNAL_ERROR, "the runtime returned no value '" + entry.getKey()
                        + "' although it was added as a graph output");
            }
            float[] floats = activation.toFloatArray();
            try {
                entry.getValue().add(floats, 0, floats.length);
            } catch (IllegalArgumentException e) {
                throw new CondenseException(ErrorCode.INVALID_DATA, "calibration sample " + (size == 1 ? String.valueOf(first)
                        : first + " to " + (first + size - 1)) + " gives activation '" + entry.getKey() + "' a non-finite " + e.getMessage());
            }
        }
    }

    /** Waits for the helper's previous batch, rethrowing what it threw. */
    private static void await(Future<?> pending) {
        if (pending == null) {
            return;
        }
        try {
            pending.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CondenseException(ErrorCode.CANCELLED, "calibration was interrupted");
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException runtime) {
                throw runtime;
            }
            throw new CondenseException(ErrorCode.INTERNAL_ERROR, "calibration failed: " + e.getCause());
        }
    }

    /** True when the input's first dimension is dynamic, so several samples can be fed in one run. */
    public static boolean batchable(ValueSpec input) {
        long[] shape = input.shape();
        return shape.length > 1 && shape[0] < 0;
    }

    /**
     * Samples per run after a run of {@code samples} samples returned {@code outputs}: as many as keep a run's outputs within
     * {@link #BATCH_BYTES}, from 1 to {@link #MAX_BATCH}.
     */
    public static int batchSize(Map<String, NdArray> outputs, int samples) {
        long bytes = 0;
        for (NdArray output : outputs.values()) {
            bytes += 4L * output.size();
        }
        long perSample = Math.max(1, bytes / Math.max(1, samples));
        return (int) Math.max(1, Math.min(MAX_BATCH, BATCH_BYTES / perSample));
    }

    /** The host's evaluator, or RUNTIME_FAILURE saying calibration needs one. */
    public static Evaluator evaluator(StepContext context) {
        return context.evaluator().orElseThrow(() -> new CondenseException(ErrorCode.RUNTIME_FAILURE,
                context.techniqueId() + " needs the host's evaluator (ONNX Runtime) to run the calibration data, and this host offers none"));
    }

    /** The single real input of the session, or INVALID_DATA when the model has several. */
    public static ValueSpec singleInput(InferenceSession session) {
        List<ValueSpec> inputs = session.inputs();
        if (inputs.size() != 1) {
            throw new CondenseException(ErrorCode.INVALID_DATA, "calibration feeds models with one input; this one has "
                    + inputs.size() + ": " + inputs.stream().map(ValueSpec::name).toList());
        }
        return inputs.get(0);
    }

    /**
     * Sample {@code index} of the data as float32 in the input's shape (dynamic dimensions as 1), or INVALID_DATA when
     * its element count does not fit.
     */
    public static NdArray sampleInput(Dataset data, int index, ValueSpec input) {
        return batchInput(data, index, 1, input);
    }

    /**
     * Samples {@code [start, start + count)} of the data as float32 in the input's shape with the first dimension
     * {@code count} (other dynamic dimensions as 1), or INVALID_DATA when a sample's element count does not fit. More than one
     * sample needs a {@link #batchable} input.
     */
    public static NdArray batchInput(Dataset data, int start, int count, ValueSpec input) {
        long[] shape = input.shape();
        for (int i = 0; i < shape.length; i++) {
            if (shape[i] < 0) {
                shape[i] = 1;
            }
        }
        if (count != 1) {
            if (!batchable(input)) {
                throw new IllegalArgumentException("the input '" + input.name() + "' of shape " + Arrays.toString(input.shape())
                        + " takes one sample per run");
            }
            shape[0] = count;
        }
        NdArray sample = data.inputs().slice(start, count);
        long wanted = NdArray.elementCount(shape);
        if (sample.size() != wanted) {
            throw new CondenseException(ErrorCode.INVALID_DATA, "a calibration sample holds " + sample.size() / count + " values (data shape "
                    + Arrays.toString(data.inputs().shape()) + ") but the model input '" + input.name() + "' of shape "
                    + Arrays.toString(input.shape()) + " takes " + wanted / count);
        }
        if (input.dataType() != DataType.FLOAT) {
            throw new CondenseException(ErrorCode.INVALID_DATA, "calibration feeds float32 inputs; the model input '" + input.name()
                    + "' is " + input.dataType());
        }
        return NdArray.ofFloats(shape, sample.toFloatArray());
    }

    /** A copy of the model whose graph outputs also include {@code values} (as float tensors), graph inputs excepted. */
    public static OnnxModel exposing(OnnxModel model, Collection<String> values) {
        requireNonNull(model, "model is null");
        requireNonNull(values, "values is null");
        ModelProto.Builder proto = model.proto().toBuilder();
        GraphProto.Builder graph = proto.getGraphBuilder();
        Set<String> present = new HashSet<>();
        for (ValueInfoProto output : graph.getOutputList()) {
            present.add(output.getName());
        }
        for (ValueInfoProto input : graph.getInputList()) {
            present.add(input.getName());
        }
        for (String value : values) {
            if (present.add(value)) {
                graph.addOutput(ValueInfoProto.newBuilder().setName(value).setType(TypeProto.newBuilder()
                        .setTensorType(TypeProto.Tensor.newBuilder().setElemType(DataType.FLOAT.onnxCode()))));
            }
        }
        return OnnxModel.of(proto.build());
    }
}
