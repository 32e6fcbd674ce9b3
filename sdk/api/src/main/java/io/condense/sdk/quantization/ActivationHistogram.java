package io.condense.sdk.quantization;

/**
 * Streaming statistics of one activation tensor over calibration data, in fixed memory: exact running minimum and
 * maximum, and a histogram of {@code bins} equal bins over {@code [-limit, limit)}. The limit starts at the largest
 * magnitude of the first non-zero batch and doubles whenever a value falls outside it, merging neighbouring bins
 * pairwise, so no activation is ever kept. A {@link #rangeOnly()} histogram keeps the minimum and maximum alone (what
 * {@link CalibrationMethod#MINMAX} reads) and skips the binning. Not thread-safe.
 */
public final class ActivationHistogram {
    /** The default number of bins (1,024 for magnitudes, as TensorRT's entropy calibration uses 2,048 for them). */
    public static final int DEFAULT_BINS = 2048;

    private final long[] counts;
    private final boolean rangeOnly;
    private double limit;
    private long pendingZeros;
    private long count;
    private float min = Float.POSITIVE_INFINITY;
    private float max = Float.NEGATIVE_INFINITY;

    public ActivationHistogram() {
        this(DEFAULT_BINS);
    }

    /** @param bins a multiple of 4, at least 8 */
    public ActivationHistogram(int bins) {
        if (bins < 8 || bins % 4 != 0) {
            throw new IllegalArgumentException("bins must be a multiple of 4 and at least 8, got " + bins);
        }
        this.counts = new long[bins];
        this.rangeOnly = false;
    }

    private ActivationHistogram(long[] counts, boolean rangeOnly) {
        this.counts = counts;
        this.rangeOnly = rangeOnly;
    }

    /**
     * Statistics that keep only the count, minimum and maximum: no bins (its {@link #limit()} stays 0, so every
     * {@link CalibrationMethod} chooses {@code [min, max]} from it). For values whose range is chosen by minmax.
     */
    public static ActivationHistogram rangeOnly() {
        return new ActivationHistogram(new long[0], true);
    }

    /** True for {@link #rangeOnly()} statistics. */
    public boolean isRangeOnly() {
        return rangeOnly;
    }

    /**
     * Adds {@code values[offset, offset + length)}.
     *
     * @throws IllegalArgumentException naming the index of the first NaN or infinite value
     */
    public void add(float[] values, int offset, int length) {
        java.util.Objects.checkFromIndexSize(offset, length, values.length);
        int end = offset + length;
        float batchMin = Float.POSITIVE_INFINITY;
        float batchMax = Float.NEGATIVE_INFINITY;
        // Math.min and Math.max carry a NaN through, so one check after the loop finds NaN and infinities alike
        for (int i = offset; i < end; i++) {
            float value = values[i];
            batchMin = Math.min(batchMin, value);
            batchMax = Math.max(batchMax, value);
        }
        if (length == 0) {
            return;
        }
        if (!Float.isFinite(batchMin) || !Float.isFinite(batchMax)) {
            for (int i = offset; i < end; i++) {
                if (!Float.isFinite(values[i])) {
                    throw new IllegalArgumentException("activation value " + values[i] + " at index " + (i - offset));
                }
            }
        }
        min = Math.min(min, batchMin);
        max = Math.max(max, batchMax);
        count += length;
        if (rangeOnly) {
            return;
        }
        double magnitude = Math.max(-(double) batchMin, batchMax);
        if (magnitude == 0) {
            if (limit == 0) {
                pendingZeros += length;
            } else {
                counts[counts.length / 2] += length;
            }
            return;
        }
        if (limit == 0) {
            limit = magnitude;
            counts[counts.length / 2] += pendingZeros;
            pendingZeros = 0;
        }
        while (magnitude >= limit) {
            doubleLimit();
        }
        int bins = counts.length;
        double perUnit = bins / (2 * limit);
        double offsetUnits = limit * perUnit;
        int last = bins - 1;
        for (int i = offset; i < end; i++) {
            int bin = (int) (values[i] * perUnit + offsetUnits);
            counts[bin < 0 ? 0 : Math.min(bin, last)]++;
        }
    }

    /**
     * Adds the minimum and maximum of {@code values} values computed elsewhere (inside the runtime) to a
     * {@link #rangeOnly()} histogram.
     *
     * @throws IllegalStateException on a histogram with bins, which needs every value
     * @throws IllegalArgumentException when the minimum or maximum is NaN or infinite
     */
    public void addRange(float batchMin, float batchMax, long values) {
        if (!rangeOnly) {
            throw new IllegalStateException("a histogram with bins needs the values themselves, not their range");
        }
        if (values == 0) {
            return;
        }
        if (!Float.isFinite(batchMin) || !Float.isFinite(batchMax)) {
            throw new IllegalArgumentException("activation value " + (Float.isFinite(batchMin) ? batchMax : batchMin));
        }
        min = Math.min(min, batchMin);
        max = Math.max(max, batchMax);
        count += values;
    }

    private void doubleLimit() {
        int bins = counts.length;
        int quarter = bins / 4;
        long[] merged = new long[bins];
        for (int i = 0; i < bins; i++) {
            merged[quarter + (i >> 1)] += counts[i];
        }
        System.arraycopy(merged, 0, counts, 0, bins);
        limit *= 2;
    }

    /** Values added so far. */
    public long count() {
        return count;
    }

    /** The smallest value added (positive infinity before any). */
    public float min() {
        return min;
    }

    /** The largest value added (negative infinity before any). */
    public float max() {
        return max;
    }

    /** The histogram covers {@code [-limit, limit)}; 0 while every value added was 0. */
    public double limit() {
        return limit;
    }

    public int bins() {
        return counts.length;
    }

    /** Width of one bin (0 while the limit is 0). */
    public double binWidth() {
        return counts.length == 0 ? 0 : 2 * limit / counts.length;
    }

    /** A copy of the counts: bin {@code i} covers {@code [-limit + i width, -limit + (i + 1) width)}. */
    public long[] counts() {
        if (rangeOnly) {
            return new long[0];
        }
        long[] copy = counts.clone();
        copy[counts.length / 2] += pendingZeros;
        return copy;
    }

    /** Counts of magnitudes: bin {@code k} of {@code bins / 2} covers {@code |x|} in {@code [k width, (k + 1) width)}. */
    public long[] magnitudeCounts() {
        if (rangeOnly) {
            return new long[0];
        }
        int half = counts.length / 2;
        long[] magnitudes = new long[half];
        for (int k = 0; k < half; k++) {
            magnitudes[k] = counts[half + k] + counts[half - 1 - k];
        }
        magnitudes[0] += pendingZeros;
        return magnitudes;
    }
}
