package io.condense.plugin.quantization;

import static java.util.Objects.requireNonNull;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import io.condense.sdk.context.StepContext;
import io.condense.sdk.data.Dataset;
import io.condense.sdk.data.NdArray;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.eval.InferenceSession;
import io.condense.sdk.eval.ValueSpec;
import io.condense.sdk.model.NodeAttributes;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.model.WeightLayer;
import io.condense.sdk.quantization.ActivationCalibrator;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;

/**
 * The Hessian {@code H = 2 X^T X / n} of each weight's layer inputs over calibration data, for GPTQ: X holds one row per
 * input vector the weight multiplies (a Gemm or MatMul input row; a Conv's im2col patch, [input channel, kernel row,
 * kernel column] in the weight's order, zero where the window hangs over the padding). The model runs one sample at a
 * time with the layer inputs exposed as outputs; each sample's vectors are added into X^T X and dropped, so memory is
 * one [features, features] matrix per weight whatever the number of samples.
 */
final class LayerInputHessians {
    private LayerInputHessians() {
    }

    /** How one layer's input becomes rows of X. */
    sealed interface InputView permits Rows, Patches {
        String value();
    }

    /** Gemm (transA=0) or MatMul with the weight second: the input's last axis holds the features. */
    record Rows(String value, int features) implements InputView {
    }

    /** A 2-D Conv with group=1. */
    record Patches(String value, int channels, int kernelHeight, int kernelWidth, int[] strides, int[] dilations, int[] pads,
            String autoPad) implements InputView {
        int features() {
            return channels * kernelHeight * kernelWidth;
        }
    }

    /** The view of a layer's input as rows of X, or a reason why GPTQ cannot see it. */
    static Result<InputView> view(WeightLayer layer, WeightMatrix matrix) {
        NodeProto node = layer.node();
        switch (node.getOpType()) {
            case "Conv" -> {
                long[] shape = matrix.shape();
                if (shape.length != 4) {
                    return Result.refused("GPTQ handles 2-D convolutions (weight rank 4), this weight has rank " + shape.length);
                }
                if (NodeAttributes.getInt(node, "group", 1) != 1) {
                    return Result.refused("GPTQ does not handle grouped convolutions (group=" + NodeAttributes.getInt(node, "group", 1) + ")");
                }
                int[] strides = ints(node, "strides", new int[] {1, 1});
                int[] dilations = ints(node, "dilations", new int[] {1, 1});
                int[] pads = ints(node, "pads", new int[] {0, 0, 0, 0});
                String autoPad = NodeAttributes.getString(node, "auto_pad", "NOTSET");
                return Result.of(new Patches(node.getInput(0), (int) shape[1], (int) shape[2], (int) shape[3], strides, dilations, pads,
                        autoPad));
            }
            case "Gemm" -> {
                if (NodeAttributes.getInt(node, "transA", 0) != 0) {
                    return Result.refused("GPTQ does not handle Gemm with transA=1");
                }
                return Result.of(new Rows(node.getInput(0), matrix.columns()));
            }
            case "MatMul" -> {
                if (!node.getInput(1).equals(layer.weightName()) || node.getInput(0).equals(layer.weightName())) {
                    return Result.refused("GPTQ handles MatMul with the weight as second operand");
                }
                return Result.of(new Rows(node.getInput(0), matrix.columns()));
            }
            default -> {
                return Result.refused("GPTQ does not handle " + node.getOpType());
            }
        }
    }

    /** A value or the reason there is none. */
    record Result<T>(Optional<T> value, String reason) {
        static <T> Result<T> of(T value) {
            return new Result<>(Optional.of(value), "");
        }

        static <T> Result<T> refused(String reason) {
            return new Result<>(Optional.empty(), reason);
        }
    }

    /**
     * The Hessians of the weights, keyed by weight name, from the first {@code samples} samples.
     *
     * @param views the input views of every layer reading each weight
     */
    static Map<String, DMatrixRMaj> accumulate(OnnxModel model, Map<String, List<InputView>> views, Map<String, Integer> features,
            Dataset data, int samples, StepContext context) {
        requireNonNull(model, "model is null");
        Set<String> values = new LinkedHashSet<>();
        Map<String, DMatrixRMaj> sums = new LinkedHashMap<>();
        Map<String, long[]> counts = new LinkedHashMap<>();
        for (Map.Entry<String, List<InputView>> entry : views.entrySet()) {
            int size = features.get(entry.getKey());
            sums.put(entry.getKey(), new DMatrixRMaj(size, size));
            counts.put(entry.getKey(), new long[1]);
            for (InputView view : entry.getValue()) {
                values.add(view.value());
            }
        }
        int count = Math.min(samples, data.size());
        Map<InputView, DMatrixRMaj> buffers = new LinkedHashMap<>();
        try (InferenceSession session = ActivationCalibrator.evaluator(context).open(ActivationCalibrator.exposing(model, values))) {
            ValueSpec input = ActivationCalibrator.singleInput(session);
            for (int sample = 0; sample < count; sample++) {
                context.checkCancelled();
                if (sample % 16 == 0) {
                    context.progress(0.5 * sample / count, "GPTQ calibration sample " + (sample + 1) + " of " + count);
                }
                NdArray feed = ActivationCalibrator.sampleInput(data, sample, input);
                Map<String, NdArray> outputs = session.run(Map.of(input.name(), feed));
                for (Map.Entry<String, List<InputView>> entry : views.entrySet()) {
                    for (InputView view : entry.getValue()) {
                        NdArray activation = view.value().equals(input.name()) ? feed : outputs.get(view.value());
                        if (activation == null) {
                            throw new CondenseException(ErrorCode.INTERNAL_ERROR, "the runtime returned no value '" + view.value() + "'");
                        }
                        DMatrixRMaj rows = view instanceof Patches patches
                                ? patches(activation, patches, buffers)
                                : rows(activation, (Rows) view, buffers);
                        CommonOps_DDRM.multAddTransA(rows, rows, sums.get(entry.getKey()));
                        counts.get(entry.getKey())[0] += rows.numRows;
                    }
                }
            }
        }
        for (Map.Entry<String, DMatrixRMaj> entry : sums.entrySet()) {
            long rows = counts.get(entry.getKey())[0];
            CommonOps_DDRM.scale(rows == 0 ? 0 : 2.0 / rows, entry.getValue());
        }
        return sums;
    }

    static DMatrixRMaj rows(NdArray activation, Rows view, Map<InputView, DMatrixRMaj> buffers) {
        float[] values = activation.toFloatArray();
        if (values.length % view.features() != 0) {
            throw new CondenseException(ErrorCode.INTERNAL_ERROR, "input '" + view.value() + "' holds " + values.length + " values, not rows of "
                    + view.features());
        }
        int count = values.length / view.features();
        DMatrixRMaj rows = buffer(buffers, view, count, view.features());
        for (int i = 0; i < values.length; i++) {
            rows.data[i] = values[i];
        }
        return rows;
    }

    static DMatrixRMaj patches(NdArray activation, Patches view, Map<InputView, DMatrixRMaj> buffers) {
        long[] shape = activation.shape();
        if (shape.length != 4 || shape[1] != view.channels()) {
            throw new CondenseException(ErrorCode.INTERNAL_ERROR, "Conv input '" + view.value() + "' has shape " + java.util.Arrays.toString(shape));
        }
        int batch = (int) shape[0];
        int height = (int) shape[2];
        int width = (int) shape[3];
        int[] padsBegin = new int[2];
        int[] outputs = new int[2];
        int[] sizes = {height, width};
        int[] kernel = {view.kernelHeight(), view.kernelWidth()};
        for (int axis = 0; axis < 2; axis++) {
            int span = view.dilations()[axis] * (kernel[axis] - 1) + 1;
            int stride = view.strides()[axis];
            switch (view.autoPad()) {
                case "SAME_UPPER", "SAME_LOWER" -> {
                    outputs[axis] = (sizes[axis] + stride - 1) / stride;
                    int total = Math.max(0, (outputs[axis] - 1) * stride + span - sizes[axis]);
                    padsBegin[axis] = view.autoPad().equals("SAME_UPPER") ? total / 2 : total - total / 2;
                }
                case "VALID" -> {
                    outputs[axis] = (sizes[axis] - span) / stride + 1;
                    padsBegin[axis] = 0;
                }
                default -> {
                    padsBegin[axis] = view.pads()[axis];
                    outputs[axis] = (sizes[axis] + view.pads()[axis] + view.pads()[axis + 2] - span) / stride + 1;
                }
            }
        }
        float[] values = activation.toFloatArray();
        int features = view.features();
        int positions = outputs[0] * outputs[1];
        DMatrixRMaj rows = buffer(buffers, view, batch * positions, features);
        double[] data = rows.data;
        int channels = view.channels();
        for (int image = 0; image < batch; image++) {
            for (int outY = 0; outY < outputs[0]; outY++) {
                for (int outX = 0; outX < outputs[1]; outX++) {
                    int row = (image * positions + outY * outputs[1] + outX) * features;
                    int feature = 0;
                    for (int channel = 0; channel < channels; channel++) {
                        int plane = (image * channels + channel) * height * width;
                        for (int ky = 0; ky < kernel[0]; ky++) {
                            int y = outY * view.strides()[0] - padsBegin[0] + ky * view.dilations()[0];
                            for (int kx = 0; kx < kernel[1]; kx++) {
                                int x = outX * view.strides()[1] - padsBegin[1] + kx * view.dilations()[1];
                                data[row + feature++] = y >= 0 && y < height && x >= 0 && x < width ? values[plane + y * width + x] : 0;
                            }
                        }
                    }
                }
            }
        }
        return rows;
    }

    private static DMatrixRMaj buffer(Map<InputView, DMatrixRMaj> buffers, InputView view, int rows, int columns) {
        DMatrixRMaj buffer = buffers.get(view);
        if (buffer == null || buffer.numRows != rows || buffer.numCols != columns) {
            buffer = new DMatrixRMaj(rows, columns);
            buffers.put(view, buffer);
        }
        return buffer;
    }

    private static int[] ints(NodeProto node, String name, int[] fallback) {
        for (AttributeProto attribute : node.getAttributeList()) {
            if (attribute.getName().equals(name)) {
                List<Long> list = attribute.getIntsList();
                int[] result = new int[list.size()];
                for (int i = 0; i < result.length; i++) {
                    result[i] = Math.toIntExact(list.get(i));
                }
                return result;
            }
        }
        return fallback;
    }

    static List<String> names(List<InputView> views) {
        List<String> names = new ArrayList<>();
        for (InputView view : views) {
            names.add(view.value());
        }
        return names;
    }
}
