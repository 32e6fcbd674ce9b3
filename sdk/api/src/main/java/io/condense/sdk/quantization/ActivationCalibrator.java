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

/**
 * Records float activations of a model over calibration data into one {@link ActivationHistogram} per value. The
 * model is run through the host's evaluator one sample at a time, on a copy whose graph outputs also expose the
 * wanted values; each sample's activations go into the histograms and are dropped, so memory does not grow with
 * the number of samples.
 */
public final class ActivationCalibrator {
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
        requireNonNull(model, "model is null");
        requireNonNull(values, "values is null");
        requireNonNull(data, "data is null");
        requireNonNull(context, "context is null");
        if (samples < 1) {
            throw new IllegalArgumentException("samples must be at least 1, got " + samples);
        }
        Evaluator evaluator = evaluator(context);
        Map<String, ActivationHistogram> histograms = new LinkedHashMap<>();
        for (String value : values) {
            histograms.put(value, new ActivationHistogram(bins));
        }
        int count = Math.min(samples, data.size());
        try (InferenceSession session = evaluator.open(exposing(model, values))) {
            ValueSpec input = singleInput(session);
            for (int sample = 0; sample < count; sample++) {
                context.checkCancelled();
                if (sample % 16 == 0) {
                    context.progress((double) sample / count, "calibration sample " + (sample + 1) + " of " + count);
                }
                NdArray feed = sampleInput(data, sample, input);
                Map<String, NdArray> outputs = session.run(Map.of(input.name(), feed));
                for (Map.Entry<String, ActivationHistogram> entry : histograms.entrySet()) {
                    NdArray activation = entry.getKey().equals(input.name()) ? feed : outputs.get(entry.getKey());
                    if (activation == null) {
                        throw new CondenseException(ErrorCode.INTERNAL_ERROR, "the runtime returned no value '" + entry.getKey()
                                + "' although it was added as a graph output");
                    }
                    float[] floats = activation.toFloatArray();
                    try {
                        entry.getValue().add(floats, 0, floats.length);
                    } catch (IllegalArgumentException e) {
                        throw new CondenseException(ErrorCode.INVALID_DATA, "calibration sample " + sample + " gives activation '"
                                + entry.getKey() + "' a non-finite " + e.getMessage());
                    }
                }
            }
        }
        return histograms;
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
     * Sample {@code index} of the data as float32 in the input's shape (free dimensions from the data's sample shape
     * where it tells them, see {@link #concreteShape}, else 1), or INVALID_DATA when
     * its element count does not fit.
     */
    public static NdArray sampleInput(Dataset data, int index, ValueSpec input) {
        long[] shape = concreteShape(input.shape(), data.inputs().shape());
        for (int i = 0; i < shape.length; i++) {
            if (shape[i] < 0) {
                shape[i] = 1;
            }
        }
        NdArray sample = data.inputs().slice(index, 1);
        long wanted = NdArray.elementCount(shape);
        if (sample.size() != wanted) {
            throw new CondenseException(ErrorCode.INVALID_DATA, "a calibration sample holds " + sample.size() + " values (data shape "
                    + Arrays.toString(data.inputs().shape()) + ") but the model input '" + input.name() + "' of shape "
                    + Arrays.toString(input.shape()) + " takes " + wanted);
        }
        if (input.dataType() != DataType.FLOAT) {
            throw new CondenseException(ErrorCode.INVALID_DATA, "calibration feeds float32 inputs; the model input '" + input.name()
                    + "' is " + input.dataType());
        }
        return NdArray.ofFloats(shape, sample.toFloatArray());
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
