package io.condense.sdk.quantization;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The entropy search computed from prefix sums chooses the same threshold as the direct computation it replaced (each
 * candidate edge's reference and candidate distributions built bin by bin, then their KL divergence), kept here as the
 * reference.
 */
class EntropyThresholdTest {
    private static final int LEVELS = 128;

    @Test
    void choosesTheSameThresholdAsTheDirectSearch() {
        Random random = new Random(16);
        for (int trial = 0; trial < 40; trial++) {
            ActivationHistogram histogram = new ActivationHistogram();
            int count = 2_000 + random.nextInt(50_000);
            float[] values = new float[count];
            double scale = 0.1 + 10 * random.nextDouble();
            int shape = trial % 4;
            for (int i = 0; i < count; i++) {
                double value = switch (shape) {
                    case 0 -> random.nextGaussian() * scale;
                    case 1 -> Math.max(0, random.nextGaussian() * scale);
                    // heavy tail: a few large outliers
                    case 2 -> random.nextDouble() < 0.001 ? scale * 50 * random.nextDouble() : random.nextGaussian() * scale;
                    // sparse, two modes (MNIST pixels)
                    default -> random.nextDouble() < 0.8 ? 0 : 255 * random.nextDouble() * random.nextDouble();
                };
                values[i] = (float) value;
            }
            histogram.add(values, 0, count);
            ActivationRange range = CalibrationMethod.ENTROPY.choose(histogram, true, 100);
            double expected = directThreshold(histogram);
            ActivationRange expectedRange = new ActivationRange((float) Math.max(histogram.min(), -expected),
                    (float) Math.min(histogram.max(), expected));
            assertThat(range.max()).as("trial %d", trial).isEqualTo(expectedRange.max());
            assertThat(range.min()).as("trial %d", trial).isEqualTo(Math.min(expectedRange.min(), expectedRange.max()));
        }
    }

    /** The former implementation: O(edge) work and a KL pass per candidate edge. */
    private static double directThreshold(ActivationHistogram histogram) {
        long[] magnitudes = histogram.magnitudeCounts();
        int bins = magnitudes.length;
        int last = bins;
        while (last > 1 && magnitudes[last - 1] == 0) {
            last--;
        }
        if (last <= LEVELS) {
            return last * histogram.binWidth();
        }
        double[] reference = new double[bins];
        double[] candidate = new double[bins];
        double bestDivergence = Double.POSITIVE_INFINITY;
        int bestEdge = last;
        long outliers = 0;
        for (int k = last; k < bins; k++) {
            outliers += magnitudes[k];
        }
        for (int edge = last; edge >= LEVELS; edge--) {
            for (int k = 0; k < edge; k++) {
                reference[k] = magnitudes[k];
            }
            reference[edge - 1] += outliers;
            for (int level = 0; level < LEVELS; level++) {
                int start = (int) ((long) level * edge / LEVELS);
                int end = (int) ((long) (level + 1) * edge / LEVELS);
                double sum = 0;
                int nonEmpty = 0;
                for (int k = start; k < end; k++) {
                    sum += magnitudes[k];
                    if (magnitudes[k] != 0) {
                        nonEmpty++;
                    }
                }
                double share = nonEmpty == 0 ? 0 : sum / nonEmpty;
                for (int k = start; k < end; k++) {
                    candidate[k] = magnitudes[k] != 0 ? share : 0;
                }
            }
            double divergence = divergence(reference, candidate, edge);
            if (divergence < bestDivergence) {
                bestDivergence = divergence;
                bestEdge = edge;
            }
            outliers += magnitudes[edge - 1];
        }
        return bestEdge * histogram.binWidth();
    }

    private static double divergence(double[] p, double[] q, int length) {
        double pTotal = 0;
        double qTotal = 0;
        for (int k = 0; k < length; k++) {
            pTotal += p[k];
            qTotal += q[k];
        }
        if (pTotal == 0 || qTotal == 0) {
            return Double.POSITIVE_INFINITY;
        }
        double sum = 0;
        for (int k = 0; k < length; k++) {
            if (p[k] == 0) {
                continue;
            }
            if (q[k] == 0) {
                sum += p[k] / pTotal * Math.log((p[k] / pTotal) / 1e-9);
                continue;
            }
            double pk = p[k] / pTotal;
            sum += pk * Math.log(pk / (q[k] / qTotal));
        }
        return sum;
    }
}
