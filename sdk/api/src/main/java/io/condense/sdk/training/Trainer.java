package io.condense.sdk.training;

import io.condense.sdk.data.Dataset;
import io.condense.sdk.data.NdArray;
import io.condense.sdk.model.OnnxModel;
import java.util.List;
import java.util.Map;

/**
 * Trains the float initializers of ONNX models in the host's training runtime. The host owns the native library
 * (it loads once per JVM); techniques use it only through this interface, from
 * {@link io.condense.sdk.context.StepContext#trainer()}. Implementations run one training at a time per JVM
 * and may make concurrent callers wait.
 */
public interface Trainer {

    /**
     * The operators of the model this runtime cannot interpret, as sorted {@code domain:op} names ({@code Gemm},
     * {@code com.microsoft:QLinearConv}); empty when the whole graph is supported.
     */
    List<String> unsupportedOperators(OnnxModel model);

    /**
     * Trains the model as the request says and returns it with its trained initializers written back (same names,
     * same element types). Fails before any training with {@code UNSUPPORTED_MODEL} naming every operator it cannot
     * interpret, with {@code INVALID_DATA} when the data does not fit the model, and with {@code CANCELLED} when
     * the request's cancellation check turns true (checked between batches).
     */
    TrainingResult train(TrainingRequest request);

    /** Runs the model in inference mode (dropout off, batch normalization on running statistics); every graph output by name. */
    Map<String, NdArray> run(OnnxModel model, Map<String, NdArray> inputs);

    /**
     * The fraction of samples whose argmax over the logits output (the first graph output) equals the label, in
     * inference mode, each sample reshaped to the model's input shape and multiplied by {@code inputScale}.
     */
    double accuracy(OnnxModel model, Dataset data, float inputScale, int batchSize);
}
