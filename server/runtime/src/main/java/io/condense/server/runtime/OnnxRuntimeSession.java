package io.condense.server.runtime;

import static java.util.Objects.requireNonNull;

import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import io.condense.sdk.data.NdArray;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.eval.InferenceSession;
import io.condense.sdk.eval.ValueSpec;
import io.condense.sdk.tensor.DataType;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.locks.Lock;
import java.util.concurrent.locks.ReadWriteLock;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * A model loaded in ONNX Runtime. Inputs and outputs are listed in graph order with -1 for dynamic dimensions;
 * inputs that are initializers in old exports are not listed. Outputs whose kind the SDK's arrays cannot hold
 * (sequences, maps, string, bool or double tensors, as in ONNX-ML classifiers) are neither listed nor returned;
 * a model with no output Condense can read is refused when opened.
 *
 * <p>Runs may go on at once on several threads. Closing waits for the runs in progress (ONNX Runtime must not free a
 * session a run is using: a caller that gives up on one of several runs, because another failed or the job was cancelled,
 * closes it with the others still going), and a run after closing fails with RUNTIME_FAILURE.
 */
final class OnnxRuntimeSession implements InferenceSession {
    private final OrtEnvironment environment;
    private final OrtSession session;
    private final List<ValueSpec> inputs;
    private final List<ValueSpec> outputs;
    private final Map<String, ValueSpec> inputsByName;
    private final Set<String> outputNames;
    private final InputBuffers buffers = new InputBuffers();
    /** Runs hold the read lock; closing takes the write lock. */
    private final ReadWriteLock lifecycle = new ReentrantReadWriteLock();
    private boolean closed;

    OnnxRuntimeSession(OrtEnvironment environment, OrtSession session, Set<String> realInputNames) throws OrtException {
        this.environment = requireNonNull(environment, "environment is null");
        this.session = requireNonNull(session, "session is null");
        requireNonNull(realInputNames, "realInputNames is null");
        List<ValueSpec> inputList = new ArrayList<>();
        for (Map.Entry<String, NodeInfo> entry : session.getInputInfo().entrySet()) {
            if (!realInputNames.contains(entry.getKey())) {
                continue;
            }
            ValueSpec spec = spec(entry.getKey(), entry.getValue());
            if (spec == null) {
                throw new CondenseException(ErrorCode.UNSUPPORTED_MODEL, "model input '" + entry.getKey() + "' is "
                        + entry.getValue().getInfo() + "; Condense feeds only float32, float16, uint8, int8, int32 and int64 "
                        + "tensors");
            }
            inputList.add(spec);
        }
        List<ValueSpec> outputList = new ArrayList<>();
        List<String> skipped = new ArrayList<>();
        for (Map.Entry<String, NodeInfo> entry : session.getOutputInfo().entrySet()) {
            ValueSpec spec = spec(entry.getKey(), entry.getValue());
            if (spec == null) {
                skipped.add(entry.getKey() + " (" + entry.getValue().getInfo() + ")");
            } else {
                outputList.add(spec);
            }
        }
        if (outputList.isEmpty()) {
            throw new CondenseException(ErrorCode.UNSUPPORTED_MODEL, "none of the model's outputs is a tensor Condense can "
                    + "read (float32, float16, uint8, int8, int32, int64): " + String.join(", ", skipped));
        }
        this.inputs = List.copyOf(inputList);
        this.outputs = List.copyOf(outputList);
        Map<String, ValueSpec> byName = new LinkedHashMap<>();
        for (ValueSpec input : inputList) {
            byName.put(input.name(), input);
        }
        this.inputsByName = byName;
        Set<String> names = new LinkedHashSet<>();
        for (ValueSpec output : outputList) {
            names.add(output.name());
        }
        this.outputNames = names;
    }

    private static ValueSpec spec(String name, NodeInfo node) {
        if (!(node.getInfo() instanceof TensorInfo tensor)) {
            return null;
        }
        DataType type = OnnxTensors.dataType(tensor.onnxType);
        if (type == null) {
            return null;
        }
        long[] shape = tensor.getShape();
        for (int i = 0; i < shape.length; i++) {
            if (shape[i] < 0) {
                shape[i] = -1;
            }
        }
        return new ValueSpec(name, type, shape);
    }

    @Override
    public List<ValueSpec> inputs() {
        return inputs;
    }

    @Override
    public List<ValueSpec> outputs() {
        return outputs;
    }

    @Override
    public Map<String, NdArray> run(Map<String, NdArray> feeds) {
        requireNonNull(feeds, "feeds is null");
        checkFeeds(feeds);
        try (RunInputs inputs = new RunInputs()) {
            for (Map.Entry<String, NdArray> feed : feeds.entrySet()) {
                NdArray value = feed.getValue();
                inputs.put(feed.getKey(), value.dataType(), value.shape(), value, 0, value.size());
            }
            return runTensors(inputs.tensors());
        } catch (OrtException e) {
            throw runFailure(e);
        }
    }

    /**
     * The input tensors of one run, made over direct buffers of this session's {@link InputBuffers}; closing closes the
     * tensors and gives their buffers back for the next run.
     */
    final class RunInputs implements AutoCloseable {
        private final Map<String, OnnxTensor> tensors = new LinkedHashMap<>();
        private final List<ByteBuffer> taken = new ArrayList<>();

        /** Adds input {@code name}: {@code count} values of {@code source} from {@code offset}, as {@code type} in {@code shape}. */
        void put(String name, DataType type, long[] shape, NdArray source, int offset, int count) throws OrtException {
            tensors.put(name, OnnxTensors.toOnnxTensor(environment, type, shape, source, offset, count, bytes -> {
                ByteBuffer buffer = buffers.take(bytes);
                taken.add(buffer);
                return buffer;
            }));
        }

        Map<String, OnnxTensor> tensors() {
            return tensors;
        }

        @Override
        public void close() {
            for (OnnxTensor tensor : tensors.values()) {
                tensor.close();
            }
            tensors.clear();
            buffers.give(taken);
            taken.clear();
        }
    }

    /** Spare input buffers this session holds (for tests). */
    int spareInputBuffers() {
        return buffers.spare();
    }

    /** Runs already made tensors (the caller closes them) and returns every readable output. */
    Map<String, NdArray> runTensors(Map<String, OnnxTensor> tensors) {
        Lock running = open();
        try (OrtSession.Result result = session.run(tensors, outputNames)) {
            Map<String, NdArray> values = new LinkedHashMap<>();
            for (Map.Entry<String, OnnxValue> output : result) {
                values.put(output.getKey(), OnnxTensors.toNdArray((OnnxTensor) output.getValue()));
            }
            return values;
        } catch (OrtException e) {
            throw runFailure(e);
        } finally {
            running.unlock();
        }
    }

    /** Runs without reading the outputs back (for latency). */
    void runDiscardingOutputs(Map<String, OnnxTensor> tensors) {
        Lock running = open();
        try (OrtSession.Result result = session.run(tensors, outputNames)) {
            if (result.size() != outputNames.size()) {
                throw new IllegalStateException("ONNX Runtime returned " + result.size() + " outputs, expected " + outputNames.size());
            }
        } catch (OrtException e) {
            throw runFailure(e);
        } finally {
            running.unlock();
        }
    }

    /** The read lock, held for a run; RUNTIME_FAILURE once the session is closed. */
    private Lock open() {
        Lock running = lifecycle.readLock();
        running.lock();
        if (closed) {
            running.unlock();
            throw new CondenseException(ErrorCode.RUNTIME_FAILURE, "the ONNX Runtime session was closed before this run started");
        }
        return running;
    }

    OrtEnvironment environment() {
        return environment;
    }

    private void checkFeeds(Map<String, NdArray> feeds) {
        for (String name : feeds.keySet()) {
            if (!inputsByName.containsKey(name)) {
                throw new CondenseException(ErrorCode.INVALID_DATA, "the model has no input '" + name + "'; its inputs are "
                        + inputsByName.keySet());
            }
        }
        for (ValueSpec input : inputs) {
            NdArray feed = feeds.get(input.name());
            if (feed == null) {
                throw new CondenseException(ErrorCode.INVALID_DATA, "no value given for model input '" + input.name()
                        + "'; the model's inputs are " + inputsByName.keySet());
            }
            if (feed.dataType() != input.dataType()) {
                throw new CondenseException(ErrorCode.INVALID_DATA, "model input '" + input.name() + "' takes "
                        + input.dataType() + " values but " + feed.dataType() + " values were given; convert them first");
            }
            if (!fits(input.shape(), feed.shape())) {
                throw new CondenseException(ErrorCode.INVALID_DATA, "model input '" + input.name() + "' takes shape "
                        + Arrays.toString(input.shape()) + " (-1 = any size) but the value has shape " + Arrays.toString(feed.shape()));
            }
        }
    }

    static boolean fits(long[] declared, long[] actual) {
        if (declared.length != actual.length) {
            return false;
        }
        for (int i = 0; i < declared.length; i++) {
            if (declared[i] >= 0 && declared[i] != actual[i]) {
                return false;
            }
        }
        return true;
    }

    static CondenseException runFailure(OrtException e) {
        return new CondenseException(ErrorCode.RUNTIME_FAILURE, "ONNX Runtime failed to run the model: " + e.getMessage()
                + ". Check the input shapes and types against the model's inputs; if the model was written by a technique, "
                + "that technique wrote a graph ONNX Runtime cannot execute", e);
    }

    @Override
    public void close() {
        Lock closing = lifecycle.writeLock();
        closing.lock();
        try {
            if (closed) {
                return;
            }
            closed = true;
            session.close();
        } catch (OrtException e) {
            throw new CondenseException(ErrorCode.RUNTIME_FAILURE, "ONNX Runtime failed to release a session: " + e.getMessage(), e);
        } finally {
            closing.unlock();
        }
    }
}
