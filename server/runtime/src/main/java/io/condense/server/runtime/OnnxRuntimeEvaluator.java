package io.condense.server.runtime;

import static java.util.Objects.requireNonNull;

import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.eval.EvaluationRequest;
import io.condense.sdk.eval.EvaluationResult;
import io.condense.sdk.eval.Evaluator;
import io.condense.sdk.eval.InferenceSession;
import io.condense.sdk.model.IrVersions;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.model.OpsetVersions;
import java.util.LinkedHashSet;
import java.util.Set;

/**
 * The host's {@link Evaluator}: runs ONNX models in ONNX Runtime (one {@link OrtEnvironment} per JVM, owned by
 * the host; plugins reach it only through the SDK interface). Registered for {@link java.util.ServiceLoader}.
 *
 * <p>Sessions are made from the model's bytes (a model over {@link #DEFAULT_INLINE_LIMIT_BYTES}, 1 GiB, from a file with its
 * tensors in an external data file beside it: {@link ExternalDataSessions}) with graph optimization level ALL, so QDQ models run on integer
 * kernels (graph inputs that merely repeat initializers, as old exports write them, are left out so that ONNX
 * Runtime treats those weights as constants). The intra-op thread count is the constructor's, or for the no-argument constructor the system
 * property {@value #THREADS_PROPERTY} (0 or absent: ONNX Runtime's default, one per core).
 *
 * <p>{@link #compare} measures, on the same inputs for both models:
 * <ul>
 *   <li><b>inputs</b>: up to {@code maxSamples} samples of the request's data set, each reshaped to the model's
 *       single input shape when the element counts agree (for example [N,28,28] uint8 to [1,1,28,28] float) and
 *       converted to the input's element type (integers from floats rounded and clamped); run in batches of
 *       {@link #batchSize()} when both models' first input dimension is dynamic, one by one otherwise. Without data,
 *       {@code maxSamples} inputs are generated from the input shapes with every dynamic dimension 1, from
 *       {@code seed}: floating-point inputs uniform in [0, 1), integer inputs uniform integers in [0, 10); one
 *       sample per run; models with several inputs are fine.</li>
 *   <li><b>accuracy</b> before and after, when the data has labels: the argmax over each sample's values of the
 *       first output against the label.</li>
 *   <li><b>top-1 agreement</b>: the argmax over the last axis of the first output, for every row (every index of
 *       the other axes) of every sample: UltraFace scores [1,4420,2] give 4420 rows per sample.</li>
 *   <li><b>SQNR</b> in dB, {@code 10 log10(sum ref^2 / sum (ref - candidate)^2)} over every value of every output;
 *       {@code +Infinity} when the outputs are identical.</li>
 *   <li><b>cosine similarity</b> over every value of every output (1 when both are all zeros, 0 when only one
 *       is).</li>
 *   <li><b>latency</b>, when {@code latencyRuns > 0}: the median wall time in milliseconds of single-sample runs of
 *       each model, after {@value #WARM_UP_RUNS} warm-up runs each, interleaved (and alternating which goes first) so
 *       that machine noise hits both alike: {@code latencyRuns} of each, and with {@code latencyMillis} more until the
 *       timed runs have taken that long in all (at most {@value #LATENCY_MAX_RUNS_FACTOR} x {@code latencyRuns}), so
 *       that a fast model's median is not ten noisy runs.</li>
 * </ul>
 */
public final class OnnxRuntimeEvaluator implements Evaluator {
    /** System property read by the no-argument constructor: ONNX Runtime intra-op threads per session. */
    public static final String THREADS_PROPERTY = "condense.runtime.threads";
    /** Samples per run when the models take a dynamic batch. */
    public static final int DEFAULT_BATCH_SIZE = 64;
    /** Untimed runs of each model before latency is measured. */
    public static final int WARM_UP_RUNS = 3;
    /** Latency with {@code latencyMillis}: at most this many times the requested runs. */
    public static final int LATENCY_MAX_RUNS_FACTOR = 50;

    /**
     * The newest ONNX IR version this ONNX Runtime (1.29) reads; it refuses a file that declares a newer one. A newer
     * declaration is lowered to this one when the model uses nothing newer (the onnx package writes its own newest
     * version, 14 from onnx 1.23, into every model it makes: {@link IrVersions}).
     */
    public static final long NEWEST_IR_VERSION = 13;

    /**
     * The newest opset of the default domain this ONNX Runtime (1.29) runs; it refuses a model that imports a newer one.
     * A model whose operators are unchanged between this and the opset it imports is run importing this one (the onnx
     * package imports its own newest, 28 from onnx 1.23, when a model is made without opset imports: {@link OpsetVersions}).
     */
    public static final long NEWEST_OPSET = 26;

    /** ONNX IR version 4 made initializers that are not graph inputs legal. */
    private static final long MINIMUM_IR_VERSION_WITHOUT_INITIALIZER_INPUTS = 4;

    /**
     * Models larger than this (serialized with every tensor inline) are given to ONNX Runtime as a file with its external
     * data beside it, not as one byte array: a protobuf message cannot exceed 2 GiB, and a copy of the model in the heap
     * is what the memory-mapped tensors of a large model avoid.
     */
    public static final long DEFAULT_INLINE_LIMIT_BYTES = 1L << 30;

    private final int threads;
    private final int batchSize;
    private final long inlineLimitBytes;

    /** Threads from the system property {@value #THREADS_PROPERTY} (default: ONNX Runtime's), batches of 64. */
    public OnnxRuntimeEvaluator() {
        this(threadsFromProperty(), DEFAULT_BATCH_SIZE);
    }

    /**
     * @param threads intra-op threads per session; 0 lets ONNX Runtime choose (one per core)
     * @param batchSize samples per run for models with a dynamic batch dimension
     */
    public OnnxRuntimeEvaluator(int threads, int batchSize) {
        this(threads, batchSize, DEFAULT_INLINE_LIMIT_BYTES);
    }

    /**
     * @param inlineLimitBytes models whose serialized size is larger are saved with external data to a temporary folder
     *     and opened from that file ({@link #DEFAULT_INLINE_LIMIT_BYTES} by default)
     */
    public OnnxRuntimeEvaluator(int threads, int batchSize, long inlineLimitBytes) {
        if (inlineLimitBytes < 0) {
            throw new IllegalArgumentException("inlineLimitBytes must be >= 0, got " + inlineLimitBytes);
        }
        this.inlineLimitBytes = inlineLimitBytes;
        if (threads < 0) {
            throw new IllegalArgumentException("threads must be 0 (ONNX Runtime's default) or positive, got " + threads);
        }
        if (batchSize <= 0) {
            throw new IllegalArgumentException("batchSize must be positive, got " + batchSize);
        }
        this.threads = threads;
        this.batchSize = batchSize;
    }

    private static int threadsFromProperty() {
        String value = System.getProperty(THREADS_PROPERTY);
        if (value == null || value.isBlank()) {
            return 0;
        }
        try {
            int parsed = Integer.parseInt(value.trim());
            if (parsed < 0) {
                throw new NumberFormatException("negative");
            }
            return parsed;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("system property " + THREADS_PROPERTY + " must be a whole number >= 0 "
                    + "(0 = ONNX Runtime's default), got '" + value + "'", e);
        }
    }

    /** The ONNX Runtime environment of this JVM. */
    static OrtEnvironment environment() {
        try {
            return OrtEnvironment.getEnvironment();
        } catch (RuntimeException | LinkageError e) {
            throw new CondenseException(ErrorCode.RUNTIME_FAILURE, "cannot start ONNX Runtime (its native library did not "
                    + "load): " + e.getMessage() + ". Check that the onnxruntime jar matches this platform", e);
        }
    }

    public int threads() {
        return threads;
    }

    public int batchSize() {
        return batchSize;
    }

    @Override
    public InferenceSession open(OnnxModel model) {
        return open(model, 1);
    }

    /**
     * With the threads left to ONNX Runtime (0), a session for several runs at once gets {@code processors / runsAtOnce}
     * intra-op threads (at least one), not one per processor: ONNX Runtime's threads spin while they wait for work, so
     * two runs of two threads each on two processors took UltraFace's calibration from 3.5 to 5.9 s
     * (plugins/quantization/README.md, "Eighteenth session"). A number of threads set explicitly is used as it is.
     */
    @Override
    public InferenceSession open(OnnxModel model, int runsAtOnce) {
        requireNonNull(model, "model is null");
        if (runsAtOnce < 1) {
            throw new IllegalArgumentException("runsAtOnce must be at least 1, got " + runsAtOnce);
        }
        int intraOpThreads = intraOpThreads(threads, runsAtOnce, Runtime.getRuntime().availableProcessors());
        Set<String> realInputs = new LinkedHashSet<>();
        for (ValueInfoProto input : model.inputs()) {
            realInputs.add(input.getName());
        }
        OnnxModel runnable = runnableModel(readable(model), realInputs);
        OrtEnvironment environment = environment();
        OrtSession session;
        try (OrtSession.SessionOptions options = new OrtSession.SessionOptions()) {
            options.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
            if (intraOpThreads > 0) {
                options.setIntraOpNumThreads(intraOpThreads);
            }
            session = runnable.serializedSize() > inlineLimitBytes ? ExternalDataSessions.create(environment, runnable, options)
                    : environment.createSession(runnable.toBytes(), options);
        } catch (OrtException e) {
            throw new CondenseException(ErrorCode.RUNTIME_FAILURE, "ONNX Runtime refused the model: " + e.getMessage()
                    + ". The model may use an operator, opset or element type this ONNX Runtime does not support, or be "
                    + "inconsistent (check it with the ONNX checker); if a technique wrote it, that technique has a bug", e);
        }
        try {
            return new OnnxRuntimeSession(environment, session, realInputs);
        } catch (OrtException | RuntimeException e) {
            try {
                session.close();
            } catch (OrtException closing) {
                e.addSuppressed(closing);
            }
            if (e instanceof CondenseException condense) {
                throw condense;
            }
            throw new CondenseException(ErrorCode.RUNTIME_FAILURE, "ONNX Runtime loaded the model but cannot describe its "
                    + "inputs and outputs: " + e.getMessage(), e);
        }
    }

    /** Intra-op threads for a session: the configured number, else ONNX Runtime's choice (0) for one run at once. */
    static int intraOpThreads(int configured, int runsAtOnce, int processors) {
        if (configured > 0 || runsAtOnce == 1) {
            return configured;
        }
        return Math.max(1, processors / runsAtOnce);
    }

    /**
     * The model's bytes, without the graph inputs that only repeat initializers (old exports list every weight as
     * an input too). Nothing ever feeds those, so the model computes the same; but ONNX Runtime treats such weights
     * as overridable and then neither folds constants nor fuses QDQ patterns into integer kernels.
     */
    static byte[] runnableBytes(OnnxModel model, Set<String> realInputs) {
        return runnableModel(model, realInputs).toBytes();
    }

    private static OnnxModel runnableModel(OnnxModel model, Set<String> realInputs) {
        GraphProto graph = model.graph();
        if (graph.getInputCount() == realInputs.size()) {
            return model;
        }
        ModelProto.Builder builder = model.proto().toBuilder();
        GraphProto.Builder graphBuilder = builder.getGraphBuilder().clearInput();
        for (ValueInfoProto input : graph.getInputList()) {
            if (realInputs.contains(input.getName())) {
                graphBuilder.addInput(input);
            }
        }
        if (builder.getIrVersion() < MINIMUM_IR_VERSION_WITHOUT_INITIALIZER_INPUTS) {
            builder.setIrVersion(MINIMUM_IR_VERSION_WITHOUT_INITIALIZER_INPUTS);
        }
        return OnnxModel.of(builder.build());
    }

    @Override
    public EvaluationResult compare(OnnxModel original, OnnxModel candidate, EvaluationRequest request) {
        requireNonNull(original, "original is null");
        requireNonNull(candidate, "candidate is null");
        requireNonNull(request, "request is null");
        try (OnnxRuntimeSession originalSession = (OnnxRuntimeSession) open(original);
                OnnxRuntimeSession candidateSession = (OnnxRuntimeSession) open(candidate)) {
            return new Comparison(originalSession, candidateSession, request, batchSize).run();
        }
    }

    @Override
    public long newestIrVersion() {
        return NEWEST_IR_VERSION;
    }

    @Override
    public long newestOpset() {
        return NEWEST_OPSET;
    }

    @Override
    public String toString() {
        return "OnnxRuntimeEvaluator[threads=" + (threads == 0 ? "default" : threads) + ", batchSize=" + batchSize + "]";
    }
}
