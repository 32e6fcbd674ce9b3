package io.condense.sdk.sparsity;

import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.model.NodeAttributes;
import io.condense.sdk.model.WeightLayer;
import java.util.Arrays;

/**
 * A layer's flat weight seen as one matrix per convolution group: rows are output channels, columns are the
 * inputs each output sums over. Column order puts the N:M axis innermost: for Gemm and MatMul the input
 * features; for Conv {@code (kernel position, input channel)}, so that consecutive columns are consecutive input
 * channels at one kernel position (NVIDIA's 2:4 convention for convolutions). The SDK's
 * {@link io.condense.sdk.calibration.LayerInputGram} orders a Conv's columns as the weight does, {@code (input channel,
 * kernel position)}: {@link #gramColumn} maps one order to the other.
 *
 * @param groups convolution groups (1 for Gemm and MatMul)
 * @param rows output channels per group
 * @param columns inputs per output: input channels per group times the kernel area
 * @param channels input channels per group (the input features for Gemm and MatMul): the N:M axis length
 * @param kernelArea kernel positions (1 for Gemm and MatMul)
 * @param outputMajor for 2-D weights: true when the weight is laid out [out, in], false for [in, out]
 */
public record WeightMatrix(int groups, int rows, int columns, int channels, int kernelArea, boolean outputMajor) {

    /** The matrix view of {@code layer}'s weight of the given shape. */
    public static WeightMatrix of(WeightLayer layer, long[] shape) {
        if (layer.opType().equals("Conv")) {
            if (shape.length < 3) {
                throw new CondenseException(ErrorCode.UNSUPPORTED_MODEL, "Conv '" + layer.displayName() + "' has a weight of shape "
                        + Arrays.toString(shape) + "; expected [out, in/group, kernel...]");
            }
            int group = (int) NodeAttributes.getInt(layer.node(), "group", 1);
            int out = Math.toIntExact(shape[0]);
            if (group < 1 || out % group != 0) {
                throw new CondenseException(ErrorCode.UNSUPPORTED_MODEL, "Conv '" + layer.displayName() + "' has group=" + group
                        + " which does not divide its " + out + " output channels");
            }
            int area = 1;
            for (int i = 2; i < shape.length; i++) {
                area = Math.multiplyExact(area, Math.toIntExact(shape[i]));
            }
            int channels = Math.toIntExact(shape[1]);
            return new WeightMatrix(group, out / group, Math.multiplyExact(channels, area), channels, area, true);
        }
        if (layer.opType().equals("ConvTranspose") && shape.length >= 3) {
            // [C_in, C_out / group, k...]: each (output channel, kernel position) is a row over the input channels of its
            // group, stored input-major; N:M groups restart at every group's first input channel
            int group = (int) NodeAttributes.getInt(layer.node(), "group", 1);
            int in = Math.toIntExact(shape[0]);
            if (group < 1 || in % group != 0) {
                throw new CondenseException(ErrorCode.UNSUPPORTED_MODEL, "ConvTranspose '" + layer.displayName() + "' has group="
                        + group + " which does not divide its " + in + " input channels");
            }
            int rows = Math.toIntExact(shape[1]);
            for (int i = 2; i < shape.length; i++) {
                rows = Math.multiplyExact(rows, Math.toIntExact(shape[i]));
            }
            return new WeightMatrix(1, rows, in, in / group, 1, false);
        }
        if (layer.opType().equals("MatMul") && shape.length > 2) {
            // a batch of matrices: [..., K, N] as the second operand (K inputs, restarting per matrix), [..., M, K] as the first
            int out = Math.toIntExact(shape[layer.outputChannelAxis()]);
            int in = Math.toIntExact(shape[layer.inputChannelAxis()]);
            long stack = 1;
            for (int i = 0; i < shape.length - 2; i++) {
                stack *= shape[i];
            }
            return layer.outputChannelAxis() == shape.length - 1
                    ? new WeightMatrix(1, out, Math.toIntExact(stack * in), in, 1, false)
                    : new WeightMatrix(1, Math.toIntExact(stack * out), in, in, 1, true);
        }
        if (shape.length != 2) {
            throw new CondenseException(ErrorCode.UNSUPPORTED_MODEL, layer.opType() + " '" + layer.displayName()
                    + "' has a weight of shape " + Arrays.toString(shape) + "; expected a matrix");
        }
        int outAxis = layer.outputChannelAxis();
        int out = Math.toIntExact(shape[outAxis]);
        int in = Math.toIntExact(shape[1 - outAxis]);
        return new WeightMatrix(1, out, in, in, 1, outAxis == 0);
    }

    /** Index in the flat weight of (group, row, column). */
    public int flatIndex(int group, int row, int column) {
        if (kernelArea == 1 && groups == 1) {
            return outputMajor ? row * columns + column : column * rows + row;
        }
        int position = column / channels;
        int channel = column - position * channels;
        return ((group * rows + row) * channels + channel) * kernelArea + position;
    }

    /** Whether a group of M consecutive columns starts at {@code column} (groups restart at every kernel position). */
    public boolean groupStart(int column, int m) {
        return (column % channels) % m == 0;
    }

    /** How many columns the N:M group starting at {@code column} holds: M, or fewer at the end of a channel run. */
    public int groupLength(int column, int m) {
        return Math.min(m, channels - column % channels);
    }

    /** The weights of one group as a [rows][columns] matrix. */
    public double[][] read(float[] flat, int group) {
        double[][] matrix = new double[rows][columns];
        for (int row = 0; row < rows; row++) {
            for (int column = 0; column < columns; column++) {
                matrix[row][column] = flat[flatIndex(group, row, column)];
            }
        }
        return matrix;
    }

    /** Writes one group's [rows][columns] matrix back into the flat weight. */
    public void write(double[][] matrix, int group, float[] flat) {
        for (int row = 0; row < rows; row++) {
            for (int column = 0; column < columns; column++) {
                flat[flatIndex(group, row, column)] = (float) matrix[row][column];
            }
        }
    }

    /** The column of {@link io.condense.sdk.calibration.LayerInputGram}'s matrix that this matrix's {@code column} is. */
    public int gramColumn(int column) {
        int position = column / channels;
        int channel = column - position * channels;
        return channel * kernelArea + position;
    }
}
