package io.condense.sdk.quantization;

import static java.util.Objects.requireNonNull;

import java.util.Locale;

/**
 * How an activation range is chosen from an {@link ActivationHistogram}.
 *
 * <ul>
 *   <li>{@link #MINMAX}: the smallest and largest values seen;
 *   <li>{@link #PERCENTILE}: drops the given percentage's tails (of magnitudes when symmetric, else of each side);
 *   <li>{@link #ENTROPY}: the magnitude threshold whose 128-level quantized distribution is closest (Kullback-Leibler)
 *       to the clipped one, as TensorRT's entropy calibration;
 *   <li>{@link #MSE}: the magnitude threshold that minimises the expected squared error of quantize-dequantize
 *       over the histogram (bin centres weighted by their counts).
 * </ul>
 *
 * Entropy and MSE choose a threshold T on magnitudes; the range is then {@code [max(min, -T), min(max, T)]}.
 */
public enum CalibrationMethod {
    MINMAX,
    PERCENTILE,
    ENTROPY,
    MSE;

    /** Levels the entropy method quantizes magnitudes to when both signs share the 8-bit levels (int8: 128). */
    private static final int ENTROPY_LEVELS = 128;

    /** The lower-case name used as a parameter value. */
    public String parameterValue() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static CalibrationMethod fromParameter(String value) {
        requireNonNull(value, "value is null");
        for (CalibrationMethod method : values()) {
            if (method.parameterValue().equals(value)) {
                return method;
            }
        }
        throw new IllegalArgumentException("unknown calibration method '" + value + "': minmax, percentile, entropy or mse");
    }

    /**
     * The range to quantize the histogram's activations over.
     *
     * @param percentile used by {@link #PERCENTILE} only, in (0, 100]
     * @throws IllegalStateException when the histogram is empty
     */
    public ActivationRange choose(ActivationHistogram histogram, boolean symmetric, double percentile) {
        requireNonNull(histogram, "histogram is null");
        if (histogram.count() == 0) {
            throw new IllegalStateException("no activation values were recorded");
        }
        if (histogram.limit() == 0 || this == MINMAX) {
            return new ActivationRange(histogram.min(), histogram.max());
        }
        return switch (this) {
            case MINMAX -> new ActivationRange(histogram.min(), histogram.max());
            case PERCENTILE -> percentile(histogram, symmetric, percentile);
            case ENTROPY -> clip(histogram, entropyThreshold(histogram, entropyLevels(histogram, symmetric)));
            case MSE -> clip(histogram, mseThreshold(histogram, symmetric));
        };
    }

    private static ActivationRange clip(ActivationHistogram histogram, double threshold) {
        float low = (float) Math.max(histogram.min(), -threshold);
        float high = (float) Math.min(histogram.max(), threshold);
        return new ActivationRange(Math.min(low, high), high);
    }

    private static ActivationRange percentile(ActivationHistogram histogram, boolean symmetric, double percentile) {
        if (!(percentile > 0 && percentile <= 100)) {
            throw new IllegalArgumentException("percentile must be in (0, 100], got " + percentile);
        }
        double width = histogram.binWidth();
        if (symmetric) {
            long[] magnitudes = histogram.magnitudeCounts();
            long wanted = (long) Math.ceil(histogram.count() * percentile / 100);
            long seen = 0;
            int k = 0;
            for (; k < magnitudes.length - 1; k++) {
                seen += magnitudes[k];
                if (seen >= wanted) {
                    break;
                }
            }
            return clip(histogram, (k + 1) * width);
        }
        long[] counts = histogram.counts();
        double tail = histogram.count() * (100 - percentile) / 100;
        long seen = 0;
        int lowBin = 0;
        for (; lowBin < counts.length - 1; lowBin++) {
            seen += counts[lowBin];
            if (seen > tail) {
                break;
            }
        }
        seen = 0;
        int highBin = counts.length - 1;
        for (; highBin > 0; highBin--) {
            seen += counts[highBin];
            if (seen > tail) {
                break;
            }
        }
        double low = Math.max(histogram.min(), -histogram.limit() + lowBin * width);
        double high = Math.min(histogram.max(), -histogram.limit() + (highBin + 1) * width);
        return new ActivationRange((float) Math.min(low, high), (float) high);
    }

    /**
     * Levels of magnitude the quantized range really has: 128 when the values take both signs or the activations are int8
     * (symmetric), 256 when uint8 activations hold non-negative values (a Relu's output, pixels), whose range [0, T] gets
     * all 256 levels. Searching those with 128 levels chooses a threshold for a grid twice as coarse as the one written,
     * and so clips twice as hard as it should.
     */
    private static int entropyLevels(ActivationHistogram histogram, boolean symmetric) {
        return !symmetric && histogram.min() >= 0 ? 2 * ENTROPY_LEVELS : ENTROPY_LEVELS;
    }

    /**
     * TensorRT's entropy calibration over the magnitude histogram: for every candidate edge (a bin from the last non-empty
     * one down to {@code levels}), the reference distribution is the first {@code edge} bins with everything
     * beyond folded into the last one, the candidate is those bins merged into {@code levels} levels and spread
     * back evenly over their non-empty bins, and the edge with the least KL(reference || candidate) wins.
     *
     * <p>Computed from prefix sums of the counts, of {@code count log count} and of the non-empty bins, so each edge costs
     * {@code levels} steps instead of a pass over its bins: with {@code T} the total count, {@code S} the count
     * inside the edge and {@code share(l) = sum(l) / nonEmpty(l)} a level's mass per non-empty bin,
     * {@code KL = (1 / T) [sum m log m - log T sum m - sum_l sum'(l) (log share(l) - log S)] + last}, where the sums run
     * over the bins before the last one of the edge and {@code last} is the term of that bin, which also holds the outliers.
     */
    private static double entropyThreshold(ActivationHistogram histogram, int levels) {
        long[] magnitudes = histogram.magnitudeCounts();
        int bins = magnitudes.length;
        int last = bins;
        while (last > 1 && magnitudes[last - 1] == 0) {
            last--;
        }
        if (last <= levels) {
            return last * histogram.binWidth();
        }
        // prefix sums over bins [0, k): counts, count x log(count), non-empty bins
        double[] mass = new double[last + 1];
        double[] massLog = new double[last + 1];
        int[] nonEmpty = new int[last + 1];
        for (int k = 0; k < last; k++) {
            long m = magnitudes[k];
            mass[k + 1] = mass[k] + m;
            massLog[k + 1] = massLog[k] + (m > 0 ? m * Math.log(m) : 0);
            nonEmpty[k + 1] = nonEmpty[k] + (m > 0 ? 1 : 0);
        }
        double total = mass[last];
        for (int k = last; k < bins; k++) {
            total += magnitudes[k];
        }
        double logTotal = Math.log(total);
        double bestDivergence = Double.POSITIVE_INFINITY;
        int bestEdge = last;
        for (int edge = last; edge >= levels; edge--) {
            double inside = mass[edge];
            if (inside == 0) {
                continue;
            }
            double logInside = Math.log(inside);
            double outliers = total - inside;
            long lastCount = magnitudes[edge - 1];
            // sum over the non-empty bins before edge - 1 of m (log share - log S), level by level
            double cross = 0;
            double lastShare = 0;
            for (int level = 0; level < levels; level++) {
                int start = (int) ((long) level * edge / levels);
                int end = (int) ((long) (level + 1) * edge / levels);
                int filled = nonEmpty[end] - nonEmpty[start];
                if (filled == 0) {
                    continue;
                }
                double sum = mass[end] - mass[start];
                double logShare = Math.log(sum / filled);
                if (end == edge) {
                    lastShare = sum / filled;
                    sum -= lastCount;
                }
                cross += sum * (logShare - logInside);
            }
            double divergence = (massLog[edge - 1] - logTotal * mass[edge - 1] - cross) / total;
            double lastMass = lastCount + outliers;
            if (lastMass > 0) {
                double p = lastMass / total;
                // the outliers folded into an empty last bin have no candidate mass there: penalised as TensorRT's smoothing does
                divergence += lastCount != 0 ? p * Math.log(p / (lastShare / inside)) : p * Math.log(p / 1e-9);
            }
            if (divergence < bestDivergence) {
                bestDivergence = divergence;
                bestEdge = edge;
            }
        }
        return bestEdge * histogram.binWidth();
    }

    /** The magnitude threshold (a bin edge) with the least expected squared quantize-dequantize error. */
    private static double mseThreshold(ActivationHistogram histogram, boolean symmetric) {
        long[] counts = histogram.counts();
        int bins = counts.length;
        double width = histogram.binWidth();
        double limit = histogram.limit();
        double[] centres = new double[bins];
        for (int i = 0; i < bins; i++) {
            centres[i] = -limit + (i + 0.5) * width;
        }
        int half = bins / 2;
        int steps = Math.min(half, 256);
        double bestError = Double.POSITIVE_INFINITY;
        double bestThreshold = limit;
        for (int step = 1; step <= steps; step++) {
            double threshold = (double) step * half / steps * width;
            ActivationQuantization quantization = ActivationQuantization.of(clip(histogram, threshold), symmetric);
            double low = quantization.representableMin();
            double high = quantization.representableMax();
            double scale = quantization.scale();
            double zeroPoint = quantization.zeroPoint();
            double error = 0;
            for (int i = 0; i < bins; i++) {
                long count = counts[i];
                if (count == 0) {
                    continue;
                }
                double x = centres[i];
                double clamped = x < low ? low : Math.min(x, high);
                double restored = (Math.rint(clamped / scale + zeroPoint) - zeroPoint) * scale;
                double difference = x - restored;
                error += count * difference * difference;
            }
            if (error < bestError) {
                bestError = error;
                bestThreshold = threshold;
            }
        }
        return bestThreshold;
    }
}
