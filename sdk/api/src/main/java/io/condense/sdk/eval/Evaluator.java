package io.condense.sdk.eval;

import io.condense.sdk.model.IrVersions;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.model.OpsetVersions;

/**
 * Runs ONNX models in the host's runtime (ONNX Runtime). The host owns the native library; techniques
 * use it only through this interface.
 */
public interface Evaluator {

    /** Opens a session on the model; close it when done. Fails with RUNTIME_FAILURE if the runtime refuses the model. */
    InferenceSession open(OnnxModel model);

    /**
     * Opens a session for work that keeps {@code runsAtOnce} runs going at the same time (of this session, or of it and
     * the other sessions opened for the same work, each run on its own thread), so that the runtime can share the
     * processors among them instead of giving each run a thread per processor. {@link #open(OnnxModel)} is one run at once.
     *
     * @throws IllegalArgumentException when {@code runsAtOnce} is below 1
     */
    default InferenceSession open(OnnxModel model, int runsAtOnce) {
        if (runsAtOnce < 1) {
            throw new IllegalArgumentException("runsAtOnce must be at least 1, got " + runsAtOnce);
        }
        return open(model);
    }

    /**
     * Compares a candidate with the original model: accuracy before and after when the request has labels,
     * otherwise top-1 agreement, output SQNR and cosine similarity of the candidate against the original;
     * latency of both when asked for. Without data it generates inputs from the model's input shapes.
     */
    EvaluationResult compare(OnnxModel original, OnnxModel candidate, EvaluationRequest request);

    /**
     * The newest ONNX IR version the runtime reads (a model declaring a newer one is refused by it); the host loads a model
     * that declares a newer one and uses nothing of it at this version ({@link IrVersions#lowered}).
     */
    default long newestIrVersion() {
        return Long.MAX_VALUE;
    }

    /**
     * The newest opset of the default ONNX domain the runtime runs; the host loads a model that imports a newer one, and
     * whose operators have the same versions at this one, importing this one ({@link OpsetVersions#lowered}).
     */
    default long newestOpset() {
        return Long.MAX_VALUE;
    }

    /**
     * The model as this runtime reads it: importing {@link #newestOpset()} when it imports a newer opset whose operators
     * are the same there, and at {@link #newestIrVersion()} when it declares a newer IR version and uses nothing of it.
     */
    default OnnxModel readable(OnnxModel model) {
        return IrVersions.lowered(OpsetVersions.lowered(model, newestOpset()), newestIrVersion());
    }
}
