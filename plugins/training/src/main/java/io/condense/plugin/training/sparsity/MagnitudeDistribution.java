package io.condense.plugin.training.sparsity;

import io.condense.sdk.tensor.Tensor;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * How the magnitudes of a regularised tensor's units are spread: its elements' |w| (l1, slimming's BatchNormalization
 * scales) or its output channels' L2 norms (group lasso), for the report before and after training.
 *
 * @param units elements or channels
 * @param zeros units exactly 0
 * @param nearZero units below 1% of the largest
 */
public record MagnitudeDistribution(int units, int zeros, int nearZero, double p10, double median, double p90, double max) {
    /** The share of the largest magnitude below which a unit counts as near zero. */
    public static final double NEAR_ZERO = 0.01;

    /** The distribution of {@code tensor}'s elements ({@code axis} -1) or of its slices' L2 norms along {@code axis}. */
    public static MagnitudeDistribution of(Tensor tensor, int axis) {
        float[] values = tensor.toFloatArray();
        double[] magnitudes;
        if (axis < 0) {
            magnitudes = new double[values.length];
            for (int i = 0; i < values.length; i++) {
                magnitudes[i] = Math.abs(values[i]);
            }
        } else {
            magnitudes = channelNorms(values, tensor.shape(), axis);
        }
        double[] sorted = magnitudes.clone();
        Arrays.sort(sorted);
        int n = sorted.length;
        if (n == 0) {
            return new MagnitudeDistribution(0, 0, 0, 0, 0, 0, 0);
        }
        double max = sorted[n - 1];
        int zeros = 0;
        int nearZero = 0;
        for (double value : sorted) {
            zeros += value == 0 ? 1 : 0;
            nearZero += value < NEAR_ZERO * max ? 1 : 0;
        }
        return new MagnitudeDistribution(n, zeros, nearZero, quantile(sorted, 0.1), quantile(sorted, 0.5), quantile(sorted, 0.9), max);
    }

    private static double quantile(double[] sorted, double q) {
        return sorted[(int) Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
    }

    /** The L2 norm of every slice of a row-major array along {@code axis}. */
    static double[] channelNorms(float[] values, long[] shape, int axis) {
        int channels = Math.toIntExact(shape[axis]);
        long inner = 1;
        for (int i = axis + 1; i < shape.length; i++) {
            inner *= shape[i];
        }
        double[] sums = new double[channels];
        for (int i = 0; i < values.length; i++) {
            int channel = (int) ((i / inner) % channels);
            sums[channel] += (double) values[i] * values[i];
        }
        for (int c = 0; c < channels; c++) {
            sums[c] = Math.sqrt(sums[c]);
        }
        return sums;
    }

    /** As a report entry. */
    public Map<String, Object> toMap() {
        Map<String, Object> map = new LinkedHashMap<>();
        map.put("units", units);
        map.put("zeros", zeros);
        map.put("near_zero", nearZero);
        map.put("p10", p10);
        map.put("median", median);
        map.put("p90", p90);
        map.put("max", max);
        return map;
    }
}
