package io.condense.plugin.pruning;

import io.condense.sdk.data.NdArray;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.model.NodeAttributes;
import io.condense.sdk.model.WeightLayer;
import java.util.Arrays;
import java.util.List;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;

/**
 * The sum of X^T X over a layer's inputs, one matrix per convolution group: X has one row per output
 * position (a Gemm row, a MatMul row, a Conv im2col patch honouring strides, pads, dilations and groups) and
 * one column per {@link WeightMatrix} column, in the same order. Fed one calibration sample at a time; the
 * sample's activation is dropped afterwards, so memory holds only the [columns x columns] matrices.
 */
final class LayerHessian {
    /** Patches per block multiplied at once: bounds the work matrix to {@code BLOCK_ROWS x columns} doubles. */
    private static final int BLOCK_ROWS = 512;

    private final WeightLayer layer;
    private final WeightMatrix matrix;
    private final long[] kernel;
    private final DMatrixRMaj[] sums;
    private long rowCount;

    LayerHessian(WeightLayer layer, WeightMatrix matrix, long[] weightShape) {
        this.layer = layer;
        this.matrix = matrix;
        this.kernel = Arrays.copyOfRange(weightShape, 2, Math.max(2, weightShape.length));
        if (layer.opType().equals("Conv") && kernel.length > 2) {
            throw new CondenseException(ErrorCode.UNSUPPORTED_MODEL, "method=sparsegpt handles 1-D and 2-D convolutions; '"
                    + layer.displayName() + "' is " + kernel.length + "-D: exclude it or use method=magnitude");
        }
        this.sums = new DMatrixRMaj[matrix.groups()];
        for (int g = 0; g < sums.length; g++) {
            sums[g] = new DMatrixRMaj(matrix.columns(), matrix.columns());
        }
    }

    /** The value the layer multiplies with its weight: Conv and Gemm input 0, the other MatMul operand. */
    static String inputName(WeightLayer layer) {
        if (layer.opType().equals("MatMul") && layer.node().getInput(0).equals(layer.weightName())) {
            return layer.node().getInput(1);
        }
        return layer.node().getInput(0);
    }

    WeightLayer layer() {
        return layer;
    }

    long rowCount() {
        return rowCount;
    }

    /** X^T X of group {@code group} summed over every row seen (not a copy). */
    DMatrixRMaj sum(int group) {
        return sums[group];
    }

    /** Adds the rows of one sample's input activation. */
    void add(NdArray activation) {
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
        int k = matrix.columns();
        if (shape.length < 2 && featuresSecondToLast || shape.length < 1) {
            throw shapeError(shape);
        }
        int featureAxisLength = (int) (featuresSecondToLast ? shape[shape.length - 2] : shape[shape.length - 1]);
        if (featureAxisLength != k) {
            throw shapeError(shape);
        }
        int rows = values.length / k;
        DMatrixRMaj block = new DMatrixRMaj(Math.min(rows, BLOCK_ROWS), k);
        int filled = 0;
        int inner = featuresSecondToLast ? (int) shape[shape.length - 1] : 1;
        for (int row = 0; row < rows; row++) {
            int base;
            int stride;
            if (featuresSecondToLast) {
                int batch = row / inner;
                int column = row - batch * inner;
                base = batch * k * inner + column;
                stride = inner;
            } else {
                base = row * k;
                stride = 1;
            }
            double[] data = block.data;
            int offset = filled * k;
            for (int j = 0; j < k; j++) {
                data[offset + j] = values[base + j * stride];
            }
            filled++;
            if (filled == block.numRows) {
                flush(block, filled, 0);
                filled = 0;
            }
        }
        flush(block, filled, 0);
    }

    private void addConvolution(float[] values, long[] shape) {
        int spatialDims = kernel.length;
        if (shape.length != 2 + spatialDims) {
            throw shapeError(shape);
        }
        int batchSize = (int) shape[0];
        int channelsTotal = (int) shape[1];
        if (channelsTotal != matrix.channels() * matrix.groups()) {
            throw shapeError(shape);
        }
        int height = spatialDims == 2 ? (int) shape[2] : 1;
        int width = (int) shape[shape.length - 1];
        int kernelHeight = spatialDims == 2 ? (int) kernel[0] : 1;
        int kernelWidth = (int) kernel[kernel.length - 1];
        List<Long> strides = WeightMatrix.intsAttribute(layer.node(), "strides");
        List<Long> dilations = WeightMatrix.intsAttribute(layer.node(), "dilations");
        List<Long> pads = WeightMatrix.intsAttribute(layer.node(), "pads");
        int strideHeight = spatialDims == 2 && !strides.isEmpty() ? strides.get(0).intValue() : 1;
        int strideWidth = strides.isEmpty() ? 1 : strides.get(strides.size() - 1).intValue();
        int dilationHeight = spatialDims == 2 && !dilations.isEmpty() ? dilations.get(0).intValue() : 1;
        int dilationWidth = dilations.isEmpty() ? 1 : dilations.get(dilations.size() - 1).intValue();
        int padTop = 0;
        int padBottom = 0;
        int padLeft = 0;
        int padRight = 0;
        if (!pads.isEmpty()) {
            if (spatialDims == 2) {
                padTop = pads.get(0).intValue();
                padLeft = pads.get(1).intValue();
                padBottom = pads.get(2).intValue();
                padRight = pads.get(3).intValue();
            } else {
                padLeft = pads.get(0).intValue();
                padRight = pads.get(1).intValue();
            }
        }
        String autoPad = NodeAttributes.getString(layer.node(), "auto_pad", "NOTSET");
        int extentHeight = (kernelHeight - 1) * dilationHeight + 1;
        int extentWidth = (kernelWidth - 1) * dilationWidth + 1;
        int outHeight;
        int outWidth;
        if (autoPad.startsWith("SAME")) {
            outHeight = (height + strideHeight - 1) / strideHeight;
            outWidth = (width + strideWidth - 1) / strideWidth;
            int totalHeight = Math.max(0, (outHeight - 1) * strideHeight + extentHeight - height);
            int totalWidth = Math.max(0, (outWidth - 1) * strideWidth + extentWidth - width);
            padTop = autoPad.equals("SAME_UPPER") ? totalHeight / 2 : totalHeight - totalHeight / 2;
            padLeft = autoPad.equals("SAME_UPPER") ? totalWidth / 2 : totalWidth - totalWidth / 2;
        } else {
            if (autoPad.equals("VALID")) {
                padTop = padBottom = padLeft = padRight = 0;
            }
            outHeight = (height + padTop + padBottom - extentHeight) / strideHeight + 1;
            outWidth = (width + padLeft + padRight - extentWidth) / strideWidth + 1;
        }
        if (outHeight <= 0 || outWidth <= 0) {
            throw shapeError(shape);
        }
        int channels = matrix.channels();
        int columns = matrix.columns();
        int positions = outHeight * outWidth;
        DMatrixRMaj block = new DMatrixRMaj(Math.min(positions, BLOCK_ROWS), columns);
        int plane = height * width;
        for (int n = 0; n < batchSize; n++) {
            for (int g = 0; g < matrix.groups(); g++) {
                int filled = 0;
                for (int oy = 0; oy < outHeight; oy++) {
                    for (int ox = 0; ox < outWidth; ox++) {
                        double[] data = block.data;
                        int offset = filled * columns;
                        for (int ky = 0; ky < kernelHeight; ky++) {
                            int y = oy * strideHeight - padTop + ky * dilationHeight;
                            for (int kx = 0; kx < kernelWidth; kx++) {
                                int x = ox * strideWidth - padLeft + kx * dilationWidth;
                                int column = (ky * kernelWidth + kx) * channels;
                                boolean inside = y >= 0 && y < height && x >= 0 && x < width;
                                int source = ((n * channelsTotal + g * channels) * plane) + y * width + x;
                                for (int c = 0; c < channels; c++) {
                                    data[offset + column + c] = inside ? values[source + c * plane] : 0.0;
                                }
                            }
                        }
                        filled++;
                        if (filled == block.numRows) {
                            flush(block, filled, g);
                            filled = 0;
                        }
                    }
                }
                flush(block, filled, g);
            }
        }
    }

    private void flush(DMatrixRMaj block, int filled, int group) {
        if (filled == 0) {
            return;
        }
        DMatrixRMaj rows = block;
        if (filled < block.numRows) {
            rows = new DMatrixRMaj(filled, block.numCols);
            System.arraycopy(block.data, 0, rows.data, 0, filled * block.numCols);
        }
        CommonOps_DDRM.multAddTransA(rows, rows, sums[group]);
        if (group == 0) {
            rowCount += filled;
        }
    }

    private CondenseException shapeError(long[] shape) {
        return new CondenseException(ErrorCode.INVALID_DATA, "the input of " + layer.opType() + " '" + layer.displayName()
                + "' has shape " + Arrays.toString(shape) + " on the calibration data, which does not fit its weight (" + matrix + ")");
    }
}
