package io.condense.plugin.quantization;

import io.condense.sdk.model.LayerSelection;
import java.util.Optional;

/**
 * A layer weight seen as a matrix of {@code rows} output channels by {@code columns} input features (the layer's
 * reduction dimension: a Conv's input channels times its kernel window, a Gemm or MatMul weight's input features).
 * Conv weights [O, I, kh, kw] and Gemm weights with transB=1 are stored that way already; MatMul weights and Gemm
 * weights without transB are stored [in, out], {@code transposed}.
 */
record WeightMatrix(int rows, int columns, boolean transposed, long[] shape) {

    /** The matrix view of a candidate, or empty when its output channels are not on axis 0 (or 1 of a rank-2 weight). */
    static Optional<WeightMatrix> of(LayerSelection.Candidate candidate) {
        long[] shape = candidate.shape();
        if (!candidate.sameOutputChannelAxis() || shape.length < 2) {
            return Optional.empty();
        }
        int axis = candidate.outputChannelAxis();
        if (axis == 0) {
            int rows = Math.toIntExact(shape[0]);
            return Optional.of(new WeightMatrix(rows, candidate.elements() / rows, false, shape));
        }
        if (axis == 1 && shape.length == 2) {
            return Optional.of(new WeightMatrix(Math.toIntExact(shape[1]), Math.toIntExact(shape[0]), true, shape));
        }
        return Optional.empty();
    }

    int elements() {
        return rows * columns;
    }

    /** The stored (flat, C-order) weight as a row-major [rows, columns] matrix. */
    double[] toRows(float[] stored) {
        double[] matrix = new double[elements()];
        if (!transposed) {
            for (int i = 0; i < matrix.length; i++) {
                matrix[i] = stored[i];
            }
        } else {
            for (int column = 0; column < columns; column++) {
                int from = column * rows;
                for (int row = 0; row < rows; row++) {
                    matrix[row * columns + column] = stored[from + row];
                }
            }
        }
        return matrix;
    }

    /** Row-major [rows, columns] bytes in stored order: [rows, columns], or [columns, rows] when transposed. */
    byte[] toStored(byte[] rowMajor) {
        if (!transposed) {
            return rowMajor;
        }
        byte[] stored = new byte[rowMajor.length];
        for (int row = 0; row < rows; row++) {
            for (int column = 0; column < columns; column++) {
                stored[column * rows + row] = rowMajor[row * columns + column];
            }
        }
        return stored;
    }

    /** Row-major [rows, groups] values in stored order: [rows, groups], or [groups, rows] when transposed. */
    float[] toStored(float[] rowMajor, int groups) {
        if (!transposed) {
            return rowMajor;
        }
        float[] stored = new float[rowMajor.length];
        for (int row = 0; row < rows; row++) {
            for (int group = 0; group < groups; group++) {
                stored[group * rows + row] = rowMajor[row * groups + group];
            }
        }
        return stored;
    }

    /** The stored shape of the 2-D levels: [rows, columns], or [columns, rows] when transposed. */
    long[] storedShape() {
        return transposed ? new long[] {columns, rows} : new long[] {rows, columns};
    }

    /** The axis of the stored 2-D levels that holds the input features (the blocking axis). */
    int featureAxis() {
        return transposed ? 0 : 1;
    }

    /** The axis of the stored 2-D levels that holds the output channels. */
    int channelAxis() {
        return transposed ? 1 : 0;
    }
}
