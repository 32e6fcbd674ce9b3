package io.condense.plugin.pruning;

import io.condense.sdk.calibration.LayerInputGram;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import org.ejml.data.DMatrixRMaj;

/**
 * Prunes one weight to a sparsity or an N:M pattern, by magnitude or with {@link SparseGpt} (given the X^T X of
 * the layers reading it). Returns new float32 values; the input array is left as it is.
 */
final class LayerPruner {
    /** How the weights to remove are chosen. */
    enum Method {
        MAGNITUDE, SPARSEGPT;

        static Method fromParameter(String value) {
            return value.equals("sparsegpt") ? SPARSEGPT : MAGNITUDE;
        }

        @Override
        public String toString() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    private LayerPruner() {
    }

    /**
     * @param hessians the X^T X of every layer reading the weight (needed for SPARSEGPT, ignored otherwise)
     * @param pattern the N:M pattern, or null to prune to {@code sparsity}
     */
    static float[] prune(float[] weights, WeightMatrix matrix, Method method, List<LayerInputGram> hessians, double sparsity,
            NmPattern pattern) {
        if (method == Method.SPARSEGPT) {
            float[] result = weights.clone();
            int columns = matrix.columns();
            int[] order = new int[columns];
            for (int column = 0; column < columns; column++) {
                order[column] = matrix.gramColumn(column);
            }
            for (int group = 0; group < matrix.groups(); group++) {
                // X^T X summed over the layers, its columns permuted from the weight's order into this matrix's
                DMatrixRMaj hessian = new DMatrixRMaj(columns, columns);
                for (LayerInputGram layer : hessians) {
                    double[] gram = layer.gram(group);
                    for (int a = 0; a < columns; a++) {
                        int from = order[a] * columns;
                        int to = a * columns;
                        for (int b = 0; b < columns; b++) {
                            hessian.data[to + b] += gram[from + order[b]];
                        }
                    }
                }
                double[][] rows = matrix.read(weights, group);
                SparseGpt.prune(rows, hessian, matrix, sparsity, pattern);
                matrix.write(rows, group, result);
            }
            return result;
        }
        return pattern == null ? magnitude(weights, sparsity) : magnitudePattern(weights, matrix, pattern);
    }

    /** The round(sparsity x n) smallest magnitudes set to zero (exact, ties in index order; NaN never pruned). */
    static float[] magnitude(float[] weights, double sparsity) {
        int[] bits = new int[weights.length];
        for (int i = 0; i < bits.length; i++) {
            bits[i] = Float.floatToRawIntBits(weights[i]);
        }
        MagnitudeThreshold.Threshold threshold = new MagnitudeThreshold().find(new int[][] {bits}, Math.round(sparsity * bits.length));
        byte[] out = new byte[Math.multiplyExact(bits.length, 4)];
        MagnitudeThreshold.apply(bits, threshold.bits(), threshold.ties(), out);
        float[] result = new float[weights.length];
        ByteBuffer.wrap(out).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(result);
        return result;
    }

    /** In every group of M consecutive inputs of one output (and kernel position), all but the N largest |w| set to zero. */
    static float[] magnitudePattern(float[] weights, WeightMatrix matrix, NmPattern pattern) {
        float[] result = weights.clone();
        int m = pattern.m();
        int[] indices = new int[m];
        boolean[] dropped = new boolean[m];
        for (int group = 0; group < matrix.groups(); group++) {
            for (int row = 0; row < matrix.rows(); row++) {
                for (int column = 0; column < matrix.columns(); column += matrix.groupLength(column, m)) {
                    int length = matrix.groupLength(column, m);
                    for (int j = 0; j < length; j++) {
                        indices[j] = matrix.flatIndex(group, row, column + j);
                        dropped[j] = false;
                    }
                    for (int drop = 0; drop < length - pattern.n(); drop++) {
                        int smallest = -1;
                        for (int j = 0; j < length; j++) {
                            if (!dropped[j] && (smallest < 0 || magnitude(weights[indices[j]]) < magnitude(weights[indices[smallest]]))) {
                                smallest = j;
                            }
                        }
                        dropped[smallest] = true;
                        result[indices[smallest]] = 0.0f;
                    }
                }
            }
        }
        return result;
    }

    /** |w|, with NaN as larger than every number so that it is never chosen for removal. */
    private static float magnitude(float value) {
        return Float.isNaN(value) ? Float.POSITIVE_INFINITY : Math.abs(value);
    }
}
