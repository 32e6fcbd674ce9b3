package io.condense.sdk.quantization;

import static java.util.Objects.requireNonNull;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
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
import io.condense.sdk.stats.ShapeInference;
import io.condense.sdk.tensor.DataType;
import io.condense.sdk.tensor.Tensor;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Deque;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadFactory;

/**
 * Records float activations of a model over calibration data into one {@link ActivationHistogram} per value. The
 * model is run through the host's evaluator on a copy whose graph outputs also expose the wanted values, several samples
 * per run when its input's first dimension is dynamic ({@link #batchSize}), {@link #PARALLEL_RUNS} runs at once; each
 * run's activations go into the histograms, in sample order, on a helper thread while the next runs compute, and are then
 * dropped, so memory does not grow with the number of samples: at most {@code PARALLEL_RUNS + 1} runs' exposed values are
 * held at once. Values whose range is chosen by minmax are reduced to their
 * minimum and maximum inside the runtime.
 */
public final class ActivationCalibrator {
    /** Prefixes of the graph outputs that carry a reduced value's minimum, maximum and element count. */
    private static final String RANGE_MIN = "condense.calibration.min/";
    private static final String RANGE_MAX = "condense.calibration.max/";
    private static final String RANGE_SIZE = "condense.calibration.size/";
    /** Runs of the calibration session at once (each on its own thread; at most the processors available). */
    public static final int PARALLEL_RUNS = 2;
    /** Most samples fed in one run. */
    public static final int MAX_BATCH = 64;
    /**
     * Bytes of exposed values one batched run may produce at most, values reduced to their range inside the runtime counted
     * whole (the runtime still computes and reads them); a single sample may exceed it: it runs alone. Batching pays for
     * small models, whose runs are mostly fixed cost (the MNIST CNN: 0.13 ms a digit alone, 0.04-0.05 in runs of 8 to 64),
     * and costs once a run's activations no longer fit the processor's caches (MobileNetV2 with its activations' ranges
     * exposed, one thread: 25 ms an image alone, 33 in runs of 8, 172 in runs of 64; ResNet-18: 61, 65 and 123 ms).
     */
    public static final long BATCH_BYTES = 4L << 20;

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
     * range is chosen by minmax, computed inside the runtime ({@link #exposingRanges}) so that those tensors are never copied
     * out of it. (ReduceMin and ReduceMax need not propagate a NaN: a NaN among such values may go unnoticed, where an
     * infinity is refused.)
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
        ExecutorService worker = Executors.newSingleThreadExecutor(daemon("condense-calibration-histograms"));
        int runners = Math.max(1, Math.min(PARALLEL_RUNS, Runtime.getRuntime().availableProcessors()));
        ExecutorService runnerPool = Executors.newFixedThreadPool(runners, daemon("condense-calibration-runs"));
        List<String> whole = new ArrayList<>();
        List<String> reduced = new ArrayList<>();
        for (String value : histograms.keySet()) {
            (rangeOnly.contains(value) ? reduced : whole).add(value);
        }
        Map<String, long[]> inferred = sampleShapes(model, reduced);
        InferenceSession opened;
        try {
            opened = evaluator.open(exposingRanges(model, whole, reduced, inferred), runners);
        } catch (CondenseException e) {
            if (inferred.isEmpty()) {
                throw e;
            }
            // a shape inferred wrong (GlobalMaxPool needs a rank of 3 or more): the plain reductions, counted by Size
            inferred = Map.of();
            opened = evaluator.open(exposingRanges(model, whole, reduced, inferred), runners);
        }
        Map<String, long[]> known = inferred;
        long knownBytesPerSample = 0;
        for (long[] shape : known.values()) {
            knownBytesPerSample += 4 * NdArray.elementCount(shape);
        }
        try (InferenceSession session = opened) {
            ValueSpec input = singleInput(session);
            String inputName = input.name();
            Future<?> pending = null;
            // the first sample alone, then (dynamic batch) one full batch, on this thread: a graph that fixes its batch
            // somewhere (a Reshape to a constant shape) refuses it, and the rest runs one sample per run
            NdArray firstFeed = batchInput(data, 0, 1, input);
            Map<String, NdArray> firstOutputs = session.run(Map.of(inputName, firstFeed));
            pending = worker.submit(() -> record(histograms, known, firstOutputs, firstFeed, inputName, 0, 1));
            int sample = 1;
            int batch = 1;
            if (batchable(input) && count > 1) {
                int size = Math.min(batchSize(returnedBytes(firstOutputs) + knownBytesPerSample), count - 1);
                if (size > 1) {
                    NdArray feed = batchInput(data, 1, size, input);
                    Map<String, NdArray> outputs = null;
                    try {
                        outputs = session.run(Map.of(inputName, feed));
                    } catch (CondenseException e) {
                        size = 1;
                    }
                    if (outputs != null) {
                        Map<String, NdArray> batchOutputs = outputs;
                        int batchSize = size;
                        await(pending);
                        pending = worker.submit(() -> record(histograms, known, batchOutputs, feed, inputName, 1, batchSize));
                        sample += size;
                    }
                }
                batch = size;
            }
            // then up to `runners` runs at once (concurrent runs of one session), recorded in sample order on the helper
            // thread: at most runners + 1 runs' exposed values are held
            Deque<Run> inFlight = new ArrayDeque<>();
            int reported = -16;
            while (sample < count || !inFlight.isEmpty()) {
                while (sample < count && inFlight.size() < runners) {
                    context.checkCancelled();
                    if (sample - reported >= 16) {
                        context.progress((double) sample / count, "calibration sample " + (sample + 1) + " of " + count);
                        reported = sample;
                    }
                    int size = Math.min(batch, count - sample);
                    NdArray feed = batchInput(data, sample, size, input);
                    inFlight.add(new Run(sample, size, feed, runnerPool.submit(() -> session.run(Map.of(inputName, feed)))));
                    sample += size;
                }
                Run next = inFlight.poll();
                Map<String, NdArray> outputs = await(next.outputs());
                await(pending);
                pending = worker.submit(() -> record(histograms, known, outputs, next.feed(), inputName, next.first(), next.size()));
            }
            await(pending);
        } finally {
            worker.shutdownNow();
            runnerPool.shutdownNow();
        }
        return histograms;
    }

    private static void record(Map<String, ActivationHistogram> histograms, Map<String, long[]> known, Map<String, NdArray> outputs,
            NdArray feed, String inputName, int first, int size) {
        for (Map.Entry<String, ActivationHistogram> entry : histograms.entrySet()) {
            String value = entry.getKey();
            ActivationHistogram histogram = entry.getValue();
            try {
                if (histogram.isRangeOnly()) {
                    NdArray min = outputs.get(RANGE_MIN + value);
                    NdArray max = outputs.get(RANGE_MAX + value);
                    NdArray count = outputs.get(RANGE_SIZE + value);
                    long[] shape = known.get(value);
                    if (max == null || (count == null && shape == null)) {
                        throw new CondenseException(ErrorCode.INTERNAL_ERROR, "the runtime returned no range of '" + value
                                + "' although it was added as graph outputs");
                    }
                    long values = count != null ? count.getLong(0) : size * NdArray.elementCount(shape);
                    if (values > 0) {
                        // no minimum output: a non-negative value (Relu, Clip from 0), whose range starts at 0 anyway
                        histogram.addRange(min == null ? 0f : min.getFloat(0), max.getFloat(0), values);
                    }
                    continue;
                }
                NdArray activation = value.equals(inputName) ? feed : outputs.get(value);
                if (activation == null) {
                    throw new CondenseException(ErrorCode.INTERNAL_ERROR, "the runtime returned no value '" + value
                            + "' although it was added as a graph output");
                }
                float[] floats = activation.toFloatArray();
                histogram.add(floats, 0, floats.length);
            } catch (IllegalArgumentException e) {
                throw new CondenseException(ErrorCode.INVALID_DATA, "calibration sample " + (size == 1 ? String.valueOf(first)
                        : first + " to " + (first + size - 1)) + " gives activation '" + value + "' a non-finite " + e.getMessage());
            }
        }
    }

    /**
     * A copy of the model whose graph outputs also include the values of {@code whole} (as float tensors) and, for each
     * value of {@code reduced}, only its minimum, maximum and element count, computed inside the runtime (ReduceMin and
     * ReduceMax over every axis, Size), so that no tensor of those crosses into Java: what the minmax method needs. Their
     * outputs are named {@code RANGE_MIN}, {@code RANGE_MAX} and {@code RANGE_SIZE} followed by the value's name.
     *
     * <p>Values of {@code known} shapes (a sample's: see {@link #sampleShapes}) get no {@code Size} output, and those of them
     * that a Relu or a Clip from 0 computes over a batch and channels the maximum alone, through {@code GlobalMaxPool}: their
     * minimum is at least 0, where the range starts anyway. ONNX Runtime runs convolutions in a blocked channel layout and
     * must copy a value back to plain NCHW for every operator that reads it and knows only that layout (ReduceMin,
     * ReduceMax, Size), but not for GlobalMaxPool: MobileNetV2 with its 45 ranges took 17.5-19.7 ms an image on one thread,
     * 14.0-14.8 this way (11 ms with nothing exposed).
     */
    static OnnxModel exposingRanges(OnnxModel model, Collection<String> whole, Collection<String> reduced, Map<String, long[]> known) {
        OnnxModel exposed = exposing(model, whole);
        if (reduced.isEmpty()) {
            return exposed;
        }
        ModelProto.Builder proto = exposed.proto().toBuilder();
        GraphProto.Builder graph = proto.getGraphBuilder();
        for (String value : reduced) {
            long[] shape = known.get(value);
            if (shape != null && shape.length >= 3 && nonNegative(model, value)) {
                String pooled = RANGE_MAX + "pooled/" + value;
                graph.addNode(NodeProto.newBuilder().setOpType("GlobalMaxPool").setName(pooled).addInput(value).addOutput(pooled));
                graph.addNode(reduction("ReduceMax", pooled, RANGE_MAX + value));
                graph.addOutput(scalar(RANGE_MAX + value, DataType.FLOAT));
                continue;
            }
            graph.addNode(reduction("ReduceMin", value, RANGE_MIN + value));
            graph.addNode(reduction("ReduceMax", value, RANGE_MAX + value));
            graph.addOutput(scalar(RANGE_MIN + value, DataType.FLOAT));
            graph.addOutput(scalar(RANGE_MAX + value, DataType.FLOAT));
            if (shape == null) {
                graph.addNode(NodeProto.newBuilder().setOpType("Size").setName(RANGE_SIZE + value).addInput(value)
                        .addOutput(RANGE_SIZE + value));
                graph.addOutput(scalar(RANGE_SIZE + value, DataType.INT64));
            }
        }
        return OnnxModel.of(proto.build());
    }

    /** True when the value is a Relu's output, or a Clip's whose lower bound is a constant of at least 0. */
    static boolean nonNegative(OnnxModel model, String value) {
        NodeProto producer = model.producer(value).orElse(null);
        if (producer == null) {
            return false;
        }
        if (producer.getOpType().equals("Relu") && producer.getDomain().isEmpty()) {
            return true;
        }
        if (!producer.getOpType().equals("Clip") || !producer.getDomain().isEmpty()) {
            return false;
        }
        for (AttributeProto attribute : producer.getAttributeList()) {
            if (attribute.getName().equals("min")) {
                return attribute.getF() >= 0;
            }
        }
        if (producer.getInputCount() < 2 || producer.getInput(1).isEmpty()) {
            return false;
        }
        String low = producer.getInput(1);
        TensorProto bound = model.initializer(low).orElse(null);
        if (bound == null) {
            // exporters write the bound as a Constant node (PyTorch's ReLU6)
            NodeProto constant = model.producer(low).filter(node -> node.getOpType().equals("Constant")).orElse(null);
            if (constant == null) {
                return false;
            }
            for (AttributeProto attribute : constant.getAttributeList()) {
                if (attribute.getName().equals("value_float")) {
                    return attribute.getF() >= 0;
                }
                if (attribute.getName().equals("value") && attribute.hasT()) {
                    bound = attribute.getT();
                }
            }
            if (bound == null) {
                return false;
            }
        }
        try {
            Tensor tensor = Tensor.fromProto(bound);
            return tensor.dataType() == DataType.FLOAT && tensor.elementCount() == 1 && tensor.floats().get(0) >= 0;
        } catch (RuntimeException e) {
            return false;
        }
    }

    /**
     * The shape of one sample's value for each of {@code values} whose shape shape inference knows, when the model's only
     * input is free in its first (batch) dimension alone (or in none): then a value's size is that shape times the run's
     * samples, and the runtime need not count it. Empty otherwise (a free image size, say: sizes are then counted by Size).
     */
    static Map<String, long[]> sampleShapes(OnnxModel model, Collection<String> values) {
        List<ValueInfoProto> inputs = model.inputs();
        if (inputs.size() != 1 || values.isEmpty()) {
            return Map.of();
        }
        TypeProto.Tensor type = inputs.get(0).getType().getTensorType();
        for (int i = 1; i < type.getShape().getDimCount(); i++) {
            if (!type.getShape().getDim(i).hasDimValue() || type.getShape().getDim(i).getDimValue() <= 0) {
                return Map.of();
            }
        }
        ShapeInference shapes;
        try {
            shapes = ShapeInference.of(model);
        } catch (RuntimeException e) {
            return Map.of();
        }
        Map<String, long[]> known = new LinkedHashMap<>();
        for (String value : values) {
            shapes.shape(value).filter(shape -> shape.length > 0 && Arrays.stream(shape).allMatch(dim -> dim > 0))
                    .ifPresent(shape -> known.put(value, shape));
        }
        return known;
    }

    private static NodeProto reduction(String op, String input, String output) {
        // no axes: every axis, at every opset (ReduceMin/ReduceMax-18 take axes as an optional input)
        return NodeProto.newBuilder().setOpType(op).setName(output).addInput(input).addOutput(output)
                .addAttribute(AttributeProto.newBuilder().setName("keepdims").setType(AttributeProto.AttributeType.INT).setI(0))
                .build();
    }

    private static ValueInfoProto scalar(String name, DataType type) {
        return ValueInfoProto.newBuilder().setName(name).setType(TypeProto.newBuilder()
                .setTensorType(TypeProto.Tensor.newBuilder().setElemType(type.onnxCode()))).build();
    }

    /** One calibration run in flight: its samples and the outputs to come. */
    private record Run(int first, int size, NdArray feed, Future<Map<String, NdArray>> outputs) {
    }

    private static ThreadFactory daemon(String name) {
        return runnable -> {
            Thread thread = new Thread(runnable, name);
            thread.setDaemon(true);
            return thread;
        };
    }

    /** Waits for a helper's task, rethrowing what it threw; null for none. */
    private static <T> T await(Future<T> pending) {
        if (pending == null) {
            return null;
        }
        try {
            return pending.get();
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
     * Samples per run after a run of {@code samples} samples returned {@code outputs}: as many as keep a run's exposed values
     * (a value reduced to its range counted by its element count) within {@link #BATCH_BYTES}, from 1 to {@link #MAX_BATCH}.
     */
    public static int batchSize(Map<String, NdArray> outputs, int samples) {
        return batchSize(returnedBytes(outputs) / Math.max(1, samples));
    }

    /** Bytes of the exposed values of a run's outputs, a value reduced to its range counted by its Size output. */
    private static long returnedBytes(Map<String, NdArray> outputs) {
        long bytes = 0;
        for (Map.Entry<String, NdArray> output : outputs.entrySet()) {
            String name = output.getKey();
            if (name.startsWith(RANGE_SIZE)) {
                bytes += 4L * output.getValue().getLong(0);
            } else if (!name.startsWith(RANGE_MIN) && !name.startsWith(RANGE_MAX)) {
                bytes += 4L * output.getValue().size();
            }
        }
        return bytes;
    }

    /** Samples per run for a run that computes {@code perSampleBytes} of exposed values a sample: from 1 to {@link #MAX_BATCH}. */
    public static int batchSize(long perSampleBytes) {
        return (int) Math.max(1, Math.min(MAX_BATCH, BATCH_BYTES / Math.max(1, perSampleBytes)));
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
     * Sample {@code index} of the data in the input's shape and type (float32, or int64 / int32 token ids) (free dimensions from the data's sample shape
     * where it tells them, see {@link #concreteShape}, else 1), or INVALID_DATA when
     * its element count does not fit.
     */
    public static NdArray sampleInput(Dataset data, int index, ValueSpec input) {
        return batchInput(data, index, 1, input);
    }

    /**
     * Samples {@code [start, start + count)} of the data in the input's shape and type (float32, int64, int32) with the first dimension
     * {@code count} (other free dimensions from the data's sample shape, else 1), or INVALID_DATA when a sample's element
     * count does not fit. More than one sample needs a {@link #batchable} input.
     */
    public static NdArray batchInput(Dataset data, int start, int count, ValueSpec input) {
        long[] shape = concreteShape(input.shape(), data.inputs().shape());
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
        return switch (input.dataType()) {
            case FLOAT -> NdArray.ofFloats(shape, sample.toFloatArray());
            case INT64 -> NdArray.ofLongs(shape, wholeNumbers(sample, input));
            case INT32 -> NdArray.ofInts(shape, Arrays.stream(wholeNumbers(sample, input)).mapToInt(Math::toIntExact).toArray());
            default -> throw new CondenseException(ErrorCode.INVALID_DATA, "calibration feeds float32, int64 or int32 inputs; the model input '"
                    + input.name() + "' is " + input.dataType());
        };
    }

    /** The sample's values for an integer input (token ids of a language model): INVALID_DATA when one is not a whole number. */
    private static long[] wholeNumbers(NdArray sample, ValueSpec input) {
        long[] values = sample.toLongArray();
        if (sample.dataType() == DataType.FLOAT || sample.dataType() == DataType.FLOAT16) {
            for (int i = 0; i < values.length; i++) {
                if (sample.getFloat(i) != values[i]) {
                    throw new CondenseException(ErrorCode.INVALID_DATA, "the model input '" + input.name() + "' takes " + input.dataType()
                            + " values (token ids) but calibration value " + i + " is " + sample.getFloat(i)
                            + ": give whole numbers, e.g. an int64 .npy of token ids");
                }
            }
        }
        return values;
    }

    /**
     * The input's shape with its free dimensions taken from the data: a sample of shape {@code dataShape[1:]} of the
     * input's rank fills them in place, one of rank one less fills all but the first (the batch, then 1). Dimensions the
     * data cannot tell stay -1. A text detector's [-1, 3, -1, -1] fed [N, 3, 640, 640] runs on [1, 3, 640, 640].
     */
    public static long[] concreteShape(long[] inputShape, long[] dataShape) {
        long[] shape = inputShape.clone();
        int sampleRank = dataShape.length - 1;
        int offset = sampleRank == shape.length ? 0 : sampleRank == shape.length - 1 ? 1 : -1;
        if (offset < 0) {
            return shape;
        }
        for (int i = offset; i < shape.length; i++) {
            long given = dataShape[1 + i - offset];
            if (shape[i] >= 0 && shape[i] != given) {
                return inputShape.clone();
            }
        }
        for (int i = offset; i < shape.length; i++) {
            if (shape[i] < 0) {
                shape[i] = dataShape[1 + i - offset];
            }
        }
        return shape;
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
