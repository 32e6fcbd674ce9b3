package io.condense.sdk.sparsity;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Magnitude pruning of one weight: to a sparsity (exact, through {@link MagnitudeThreshold}) or to an N:M pattern (along
 * the input dimension, as {@link WeightMatrix} orders it). Shared by {@code prune} and by {@code finetune}'s gradual pruning,
 * which recomputes its masks with the same code at every pruning step. The input array is never changed.
 */
public final class MagnitudeMasks {
    private MagnitudeMasks() {
    }

    /** The round(sparsity x n) smallest magnitudes set to zero (exact, ties in index order; NaN never pruned). */
    public static float[] magnitude(float[] weights, double sparsity) {
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
    public static float[] magnitudePattern(float[] weights, WeightMatrix matrix, NmPattern pattern) {
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
