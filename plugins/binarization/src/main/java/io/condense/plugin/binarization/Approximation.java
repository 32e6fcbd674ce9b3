package io.condense.plugin.binarization;

import static java.util.Objects.requireNonNull;

import io.condense.sdk.tensor.ChannelLayout;
import java.util.Arrays;

/**
 * A weight written as a sum of scaled low-bit tensors: {@code W ~ sum_k scales[k][c] * levels[k][j]}, with
 * {@code c} the output channel of element {@code j}. Binary methods hold levels in {-1, +1} (one tensor per
 * basis); TWN one tensor in {-1, 0, +1}; TTQ two, the positive weights in {0, +1} and the negative ones in {-1, 0}. Every scale is finite and not negative.
 *
 * <p>The arrays are shared, not copied: an approximation is built once and written once.
 */
record Approximation(ChannelLayout layout, byte[][] levels, float[][] scales) {
    Approximation {
        requireNonNull(layout, "layout is null");
        requireNonNull(levels, "levels is null");
        requireNonNull(scales, "scales is null");
        if (levels.length == 0 || levels.length != scales.length) {
            throw new IllegalArgumentException("an approximation needs as many scale sets as level tensors (at least one), got "
                    + levels.length + " and " + scales.length);
        }
        for (int k = 0; k < levels.length; k++) {
            if (levels[k].length != layout.elements() || scales[k].length != layout.channels()) {
                throw new IllegalArgumentException("basis " + k + " holds " + levels[k].length + " levels and " + scales[k].length
                        + " scales for a layout of " + layout.elements() + " elements in " + layout.channels() + " channels");
            }
        }
    }

    int bases() {
        return levels.length;
    }

    /** The smallest scale over every basis and channel. */
    float minimumScale() {
        float minimum = Float.POSITIVE_INFINITY;
        for (float[] basis : scales) {
            for (float scale : basis) {
                minimum = Math.min(minimum, scale);
            }
        }
        return minimum;
    }

    /** The largest scale over every basis and channel. */
    float maximumScale() {
        float maximum = Float.NEGATIVE_INFINITY;
        for (float[] basis : scales) {
            for (float scale : basis) {
                maximum = Math.max(maximum, scale);
            }
        }
        return maximum;
    }

    /** Fills {@code out} with the weight this approximation stands for, summed in basis order as ONNX Runtime does. */
    void reconstruct(float[] out) {
        if (out.length != layout.elements()) {
            throw new IllegalArgumentException("output buffer holds " + out.length + " floats, the weight " + layout.elements());
        }
        int channels = layout.channels();
        int inner = layout.inner();
        Arrays.fill(out, 0f);
        for (int k = 0; k < levels.length; k++) {
            byte[] basis = levels[k];
            float[] basisScales = scales[k];
            int index = 0;
            for (int o = 0; o < layout.outer(); o++) {
                for (int c = 0; c < channels; c++) {
                    float scale = basisScales[c];
                    for (int end = index + inner; index < end; index++) {
                        out[index] += basis[index] * scale;
                    }
                }
            }
        }
    }

    /**
     * ||W - Wq|| / ||W|| against the weight it approximates ({@code scratch} is overwritten with the
     * reconstruction); 0 for an all-zero weight reproduced exactly.
     */
    double relativeError(float[] weights, float[] scratch) {
        if (weights.length != layout.elements()) {
            throw new IllegalArgumentException("weight holds " + weights.length + " floats, the approximation " + layout.elements());
        }
        reconstruct(scratch);
        double signal = 0;
        double noise = 0;
        for (int j = 0; j < weights.length; j++) {
            double weight = weights[j];
            double difference = weight - scratch[j];
            signal += weight * weight;
            noise += difference * difference;
        }
        if (signal == 0) {
            return noise == 0 ? 0.0 : Double.POSITIVE_INFINITY;
        }
        return Math.sqrt(noise / signal);
    }

    /** Share of the weights that are 0 in every basis (the ternary zeros). */
    double zeroShare() {
        long zeros = 0;
        for (int j = 0; j < layout.elements(); j++) {
            boolean zero = true;
            for (byte[] basis : levels) {
                zero &= basis[j] == 0;
            }
            if (zero) {
                zeros++;
            }
        }
        return (double) zeros / layout.elements();
    }
}
