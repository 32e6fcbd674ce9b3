package io.condense.sdk.calibration;

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
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The Gram matrix {@code X^T X} of one weight layer's inputs, summed over calibration samples, one matrix per
 * convolution group. X has one row per vector the layer multiplies with its weight: a Gemm or MatMul input row (the
 * transposed input for Gemm with {@code transA=1} and for MatMul with the weight as first operand), a 1-D or 2-D Conv's
 * im2col patch honouring strides, pads, {@code auto_pad}, dilations and groups (zero where the window hangs over the
 * padding). Each sample's rows are added and dropped, so memory holds only the {@code [columns x columns]} matrices.
 *
 * <p><b>Column order</b> is the weight's own: column {@code j} of group {@code g} multiplies the weight element at flat
 * index {@code j} of one output channel's slice. For Conv (weight {@code [out, in/group, k...]}) that is
 * {@code j = channel * kernelArea + kernelPosition} with the input channel counted inside the group and the kernel
 * position row-major over the kernel axes; for Gemm and MatMul it is the input feature. A technique that walks its
 * columns in another order permutes the matrix ({@code H'[a][b] = H[p(a)][p(b)]}).
 *
 * <p>{@link #accumulate} streams a data set through the host's evaluator for a list of layers of a given model, so a
 * technique can take every layer's inputs from one model in one pass, or call it once per layer on a model it keeps
 * changing. {@link #add} takes one activation directly.
 */
public final class LayerInputGram {
    /** Rows gathered before one rank-k update: bounds each call's work buffer to {@code BLOCK_ROWS x columns} doubles. */
    private static final int BLOCK_ROWS = 256;
    /** Columns per tile of the rank-k update, so that two tiles of the block stay in cache. */
    private static final int TILE = 64;

    private final WeightLayer layer;
    private final int groups;
    private final int channels;
    private final int columns;
    private final long[] kernel;
    private final double[][] sums;
    private long rows;

    private LayerInputGram(WeightLayer layer, int groups, int channels, long[] kernel) {
        this.layer = layer;
        this.groups = groups;
        this.channels = channels;
        this.kernel = kernel;
        int area = 1;
        for (long size : kernel) {
            area = Math.multiplyExact(area, Math.toIntExact(size));
        }
        this.columns = Math.multiplyExact(channels, area);
        this.sums = new double[groups][Math.multiplyExact(columns, columns)];
    }

    /**
     * An empty accumulator for {@code layer}, whose weight has shape {@code weightShape}.
     *
     * @throws CondenseException UNSUPPORTED_MODEL for a Conv with more than two spatial axes or a group count that does
     *         not divide its output channels, or a Gemm/MatMul weight that is not a matrix
     */
    public static LayerInputGram of(WeightLayer layer, long[] weightShape) {
        requireNonNull(layer, "layer is null");
        requireNonNull(weightShape, "weightShape is null");
        String refusal = refusal(layer, weightShape);
        if (refusal != null) {
            throw new CondenseException(ErrorCode.UNSUPPORTED_MODEL, refusal);
        }
        if (layer.opType().equals("Conv")) {
            long group = NodeAttributes.getInt(layer.node(), "group", 1);
            return new LayerInputGram(layer, (int) group, Math.toIntExact(weightShape[1]),
                    Arrays.copyOfRange(weightShape, 2, weightShape.length));
        }
        return new LayerInputGram(layer, 1, features(layer, weightShape), new long[0]);
    }

    /** Bytes of the matrices {@link #of} allocates for {@code layer} (one {@code [columns x columns]} of doubles per group). */
    static long bytes(WeightLayer layer, long[] weightShape) {
        long groups = 1;
        long columns;
        if (layer.opType().equals("Conv")) {
            groups = NodeAttributes.getInt(layer.node(), "group", 1);
            columns = weightShape[1];
            for (int axis = 2; axis < weightShape.length; axis++) {
                columns *= weightShape[axis];
            }
        } else {
            columns = features(layer, weightShape);
        }
        return groups * columns * columns * Double.BYTES;
    }

    private static int features(WeightLayer layer, long[] weightShape) {
        return Math.toIntExact(weightShape[layer.outputChannelAxis() == 0 ? 1 : 0]);
    }

    /**
     * Why the inputs of {@code layer} (weight of shape {@code weightShape}) cannot be gathered, or null when they can:
     * Conv with one or two spatial axes and a group count that divides its output channels, Gemm, and MatMul with a
     * matrix weight; not ConvTranspose nor batched MatMul weights. Techniques that need the Gram matrix skip such layers
     * with this reason.
     */
    public static String refusal(WeightLayer layer, long[] weightShape) {
        requireNonNull(layer, "layer is null");
        requireNonNull(weightShape, "weightShape is null");
        switch (layer.opType()) {
            case "Conv" -> {
                if (weightShape.length < 3 || weightShape.length > 4) {
                    return "the inputs of Conv '" + layer.displayName() + "' are gathered for 1-D and 2-D convolutions; its weight "
                            + "has shape " + Arrays.toString(weightShape);
                }
                long group = NodeAttributes.getInt(layer.node(), "group", 1);
                if (group < 1 || weightShape[0] % group != 0) {
                    return "Conv '" + layer.displayName() + "' has group=" + group + " which does not divide its " + weightShape[0]
                            + " output channels";
                }
                return null;
            }
            case "Gemm", "MatMul" -> {
                return weightShape.length == 2 ? null : layer.opType() + " '" + layer.displayName() + "' has a weight of shape "
                        + Arrays.toString(weightShape) + "; the inputs are gathered for matrix weights only";
            }
            default -> {
                return "the inputs of " + layer.opType() + " '" + layer.displayName() + "' are not gathered (Conv, Gemm and "
                        + "MatMul only)";
            }
        }
    }

    /** The value the layer multiplies with its weight: Conv and Gemm input 0, the other MatMul operand. */
    public static String inputName(WeightLayer layer) {
        if (layer.opType().equals("MatMul") && layer.node().getInput(0).equals(layer.weightName())) {
            return layer.node().getInput(1);
        }
        return layer.node().getInput(0);
    }

    /**
     * The Gram matrices of the inputs of {@code layers} of {@code model} over the first {@code samples} samples of
     * {@code data}, in the order of {@code layers}: the model runs once per sample through the host's evaluator with
     * every layer input exposed as a graph output. Progress goes from {@code progressFrom} to {@code progressTo},
     * labelled {@code activity}.
     *
     * @throws CondenseException RUNTIME_FAILURE without an evaluator, INVALID_DATA when the samples do not fit the
     *         model's single input or an input does not fit its weight, CANCELLED when the job is cancelled between samples
     */
    public static List<LayerInputGram> accumulate(OnnxModel model, List<WeightLayer> layers, Dataset data, int samples,
            StepContext context, double progressFrom, double progressTo, String activity) {
        requireNonNull(model, "model is null");
        requireNonNull(layers, "layers is null");
        requireNonNull(data, "data is null");
        requireNonNull(context, "context is null");
        requireNonNull(activity, "activity is null");
        List<LayerInputGram> grams = new ArrayList<>(layers.size());
        Set<String> values = new LinkedHashSet<>();
        for (WeightLayer layer : layers) {
            grams.add(of(layer, model.tensor(layer.weightName()).shape()));
            values.add(inputName(layer));
        }
        int count = Math.min(samples, data.size());
        try {
            forEachSample(model, values, data, count, context, progressFrom, progressTo, activity, (sample, outputs) -> {
                for (LayerInputGram gram : grams) {
                    gram.add(exposed(outputs, inputName(gram.layer)));
                }
            });
        } catch (IOException e) {
            // only the spilling callers of forEachSample write files; nothing here does
            throw new UncheckedIOException(e);
        }
        return grams;
    }

    /** What is done with one calibration sample's exposed values (the model's input under its own name too). */
    @FunctionalInterface
    interface SampleValues {
        void accept(int sample, Map<String, NdArray> values) throws IOException;
    }

    /**
     * Runs the first {@code count} samples of {@code data} through {@code model} with {@code values} exposed as graph
     * outputs, one sample at a time, handing each sample's values to {@code each}; progress from {@code progressFrom} to
     * {@code progressTo}, labelled {@code activity}, and a check for cancellation between samples.
     */
    static void forEachSample(OnnxModel model, Set<String> values, Dataset data, int count, StepContext context, double progressFrom,
            double progressTo, String activity, SampleValues each) throws IOException {
        try (InferenceSession session = ActivationCalibrator.evaluator(context).open(ActivationCalibrator.exposing(model, values))) {
            ValueSpec input = ActivationCalibrator.singleInput(session);
            for (int sample = 0; sample < count; sample++) {
                context.checkCancelled();
                if (sample % 16 == 0) {
                    context.progress(progressFrom + (progressTo - progressFrom) * sample / count,
                            activity + ": calibration sample " + (sample + 1) + " of " + count);
                }
                NdArray feed = ActivationCalibrator.sampleInput(data, sample, input);
                Map<String, NdArray> outputs = new LinkedHashMap<>(session.run(Map.of(input.name(), feed)));
                outputs.put(input.name(), feed);
                each.accept(sample, outputs);
            }
        }
    }

    /** One exposed value of a sample; an INTERNAL_ERROR when the runtime did not return it. */
    static NdArray exposed(Map<String, NdArray> outputs, String name) {
        NdArray activation = outputs.get(name);
        if (activation == null) {
            throw new CondenseException(ErrorCode.INTERNAL_ERROR, "the runtime returned no value '" + name
                    + "' although it was added as a graph output");
        }
        return activation;
    }

    public WeightLayer layer() {
        return layer;
    }

    /** Convolution groups (1 for Gemm and MatMul): one matrix each. */
    public int groups() {
        return groups;
    }

    /** Columns of X: input channels per group times the kernel area, or the input features. */
    public int columns() {
        return columns;
    }

    /** Rows of X added so far, per group. */
    public long rows() {
        return rows;
    }

    /**
     * X^T X of group {@code group}, row-major {@code [columns x columns]} and symmetric: this accumulator's own array
     * (not a copy), which later calls to {@link #add} keep changing.
     */
    public double[] gram(int group) {
        double[] sum = sums[group];
        for (int i = 1; i < columns; i++) {
            for (int j = 0; j < i; j++) {
                sum[i * columns + j] = sum[j * columns + i];
            }
        }
        return sum;
    }

    /** Adds the rows of one activation of the layer's input. */
    public void add(NdArray activation) {
        requireNonNull(activation, "activation is null");
        float[] values = activation.toFloatArray();
        long[] shape = activation.shape();
        switch (layer.opType()) {
            case "Conv" -> addConvolution(values, shape);
            case "Gemm" -> addRows(values, shape, NodeAttributes.getInt(layer.node(), "transA", 0) != 0);
            default -> addRows(values, shape, layer.node().getInput(0).equals(layer.weightName()));
        }
    }

    /** Rows of a [..., K] activation, or of its transpose when the K axis is second to last ([..., K, N]). */
    private void addRows(float[] values, long[] shape, boolean featuresSecondToLast) {
        int k = columns;
        if (shape.length < (featuresSecondToLast ? 2 : 1)) {
            throw shapeError(shape);
        }
        long featureAxisLength = featuresSecondToLast ? shape[shape.length - 2] : shape[shape.length - 1];
        if (featureAxisLength != k) {
            throw shapeError(shape);
        }
        int count = values.length / k;
        int inner = featuresSecondToLast ? (int) shape[shape.length - 1] : 1;
        int blockRows = Math.max(1, Math.min(BLOCK_ROWS, count));
        double[] block = new double[Math.multiplyExact(blockRows, k)];
        int filled = 0;
        for (int row = 0; row < count; row++) {
            int base;
            int stride;
            if (featuresSecondToLast) {
                int batch = row / inner;
                base = batch * k * inner + (row - batch * inner);
                stride = inner;
            } else {
                base = row * k;
                stride = 1;
            }
            for (int j = 0; j < k; j++) {
                block[j * blockRows + filled] = values[base + j * stride];
            }
            filled++;
            if (filled == blockRows) {
                flush(block, blockRows, filled, 0);
                filled = 0;
            }
        }
        flush(block, blockRows, filled, 0);
    }

    private void addConvolution(float[] values, long[] shape) {
        int spatialAxes = kernel.length;
        NodeProto node = layer.node();
        if (shape.length != 2 + spatialAxes || shape[1] != (long) channels * groups) {
            throw shapeError(shape);
        }
        int batchSize = (int) shape[0];
        int channelsTotal = (int) shape[1];
        // 1-D convolutions are 2-D ones of height 1
        int height = spatialAxes == 2 ? (int) shape[2] : 1;
        int width = (int) shape[shape.length - 1];
        int kernelHeight = spatialAxes == 2 ? (int) kernel[0] : 1;
        int kernelWidth = (int) kernel[spatialAxes - 1];
        long[] strides = ints(node, "strides", spatialAxes, 1);
        long[] dilations = ints(node, "dilations", spatialAxes, 1);
        long[] pads = ints(node, "pads", 2 * spatialAxes, 0);
        int strideHeight = spatialAxes == 2 ? (int) strides[0] : 1;
        int strideWidth = (int) strides[spatialAxes - 1];
        int dilationHeight = spatialAxes == 2 ? (int) dilations[0] : 1;
        int dilationWidth = (int) dilations[spatialAxes - 1];
        int padTop = spatialAxes == 2 ? (int) pads[0] : 0;
        int padBottom = spatialAxes == 2 ? (int) pads[2] : 0;
        int padLeft = (int) pads[spatialAxes - 1];
        int padRight = (int) pads[2 * spatialAxes - 1];
        String autoPad = NodeAttributes.getString(node, "auto_pad", "NOTSET");
        int extentHeight = (kernelHeight - 1) * dilationHeight + 1;
        int extentWidth = (kernelWidth - 1) * dilationWidth + 1;
        int outHeight;
        int outWidth;
        if (autoPad.equals("SAME_UPPER") || autoPad.equals("SAME_LOWER")) {
            outHeight = (height + strideHeight - 1) / strideHeight;
            outWidth = (width + strideWidth - 1) / strideWidth;
            int totalHeight = Math.max(0, (outHeight - 1) * strideHeight + extentHeight - height);
            int totalWidth = Math.max(0, (outWidth - 1) * strideWidth + extentWidth - width);
            boolean upper = autoPad.equals("SAME_UPPER");
            padTop = upper ? totalHeight / 2 : totalHeight - totalHeight / 2;
            padLeft = upper ? totalWidth / 2 : totalWidth - totalWidth / 2;
        } else {
            if (autoPad.equals("VALID")) {
                padTop = 0;
                padBottom = 0;
                padLeft = 0;
                padRight = 0;
            }
            outHeight = (height + padTop + padBottom - extentHeight) / strideHeight + 1;
            outWidth = (width + padLeft + padRight - extentWidth) / strideWidth + 1;
        }
        if (outHeight <= 0 || outWidth <= 0) {
            throw shapeError(shape);
        }
        int area = kernelHeight * kernelWidth;
        int plane = height * width;
        int blockRows = Math.min(BLOCK_ROWS, outHeight * outWidth);
        double[] block = new double[Math.multiplyExact(blockRows, columns)];
        for (int n = 0; n < batchSize; n++) {
            for (int g = 0; g < groups; g++) {
                int filled = 0;
                int groupBase = (n * channelsTotal + g * channels) * plane;
                for (int oy = 0; oy < outHeight; oy++) {
                    for (int ox = 0; ox < outWidth; ox++) {
                        for (int ky = 0; ky < kernelHeight; ky++) {
                            int y = oy * strideHeight - padTop + ky * dilationHeight;
                            boolean rowInside = y >= 0 && y < height;
                            for (int kx = 0; kx < kernelWidth; kx++) {
                                int x = ox * strideWidth - padLeft + kx * dilationWidth;
                                boolean inside = rowInside && x >= 0 && x < width;
                                int source = groupBase + y * width + x;
                                int column = ky * kernelWidth + kx;
                                for (int c = 0; c < channels; c++) {
                                    block[(c * area + column) * blockRows + filled] = inside ? values[source + c * plane] : 0.0;
                                }
                            }
                        }
                        filled++;
                        if (filled == blockRows) {
                            flush(block, blockRows, filled, g);
                            filled = 0;
                        }
                    }
                }
                flush(block, blockRows, filled, g);
            }
        }
    }

    /**
     * Adds {@code B^T B} of the first {@code filled} rows of the block (held column-major: column j at
     * {@code j * blockRows}) into the upper triangle of the group's sum, tile by tile.
     */
    private void flush(double[] block, int blockRows, int filled, int group) {
        if (filled == 0) {
            return;
        }
        double[] sum = sums[group];
        for (int tileI = 0; tileI < columns; tileI += TILE) {
            int endI = Math.min(columns, tileI + TILE);
            for (int tileJ = tileI; tileJ < columns; tileJ += TILE) {
                int endJ = Math.min(columns, tileJ + TILE);
                for (int i = tileI; i < endI; i++) {
                    int a = i * blockRows;
                    int target = i * columns;
                    for (int j = Math.max(i, tileJ); j < endJ; j++) {
                        int b = j * blockRows;
                        double dot = 0;
                        for (int r = 0; r < filled; r++) {
                            dot += block[a + r] * block[b + r];
                        }
                        sum[target + j] += dot;
                    }
                }
            }
        }
        if (group == 0) {
            rows += filled;
        }
    }

    /** An ints attribute of {@code length} values, or {@code length} times {@code fallback} when absent. */
    private long[] ints(NodeProto node, String name, int length, long fallback) {
        for (AttributeProto attribute : node.getAttributeList()) {
            if (attribute.getName().equals(name)) {
                if (attribute.getIntsCount() != length) {
                    throw new CondenseException(ErrorCode.UNSUPPORTED_MODEL, "Conv '" + layer.displayName() + "' has " + name + "="
                            + attribute.getIntsList() + "; expected " + length + " values");
                }
                long[] result = new long[length];
                for (int i = 0; i < length; i++) {
                    result[i] = attribute.getInts(i);
                }
                return result;
            }
        }
        long[] result = new long[length];
        Arrays.fill(result, fallback);
        return result;
    }

    private CondenseException shapeError(long[] shape) {
        return new CondenseException(ErrorCode.INVALID_DATA, "the input of " + layer.opType() + " '" + layer.displayName()
                + "' has shape " + Arrays.toString(shape) + " on the calibration data, which does not fit its weight ("
                + groups + " group(s) of " + columns + " columns)");
    }
}
