package io.condense.plugin.quantization;

import static org.assertj.core.api.Assertions.assertThat;

import io.condense.sdk.quantization.PowerOfTwo;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

class KMeansSharingTest {

    static double squaredError(float[] weights, KMeansSharing.Codebook codebook) {
        double error = 0;
        for (int i = 0; i < weights.length; i++) {
            double difference = weights[i] - codebook.centroids()[codebook.indices()[i] & 0xFF];
            error += difference * difference;
        }
        return error;
    }

    /** The least squared error over every split of the sorted values into {@code clusters} contiguous runs. */
    static double bruteForce(double[] sorted, int first, int clusters) {
        if (clusters == 1) {
            return runError(sorted, first, sorted.length - 1);
        }
        double best = Double.POSITIVE_INFINITY;
        for (int end = first; end <= sorted.length - clusters; end++) {
            best = Math.min(best, runError(sorted, first, end) + bruteForce(sorted, end + 1, clusters - 1));
        }
        return best;
    }

    static double runError(double[] sorted, int first, int last) {
        double mean = 0;
        for (int i = first; i <= last; i++) {
            mean += sorted[i];
        }
        mean /= last - first + 1;
        double error = 0;
        for (int i = first; i <= last; i++) {
            error += (sorted[i] - mean) * (sorted[i] - mean);
        }
        return error;
    }

    @Test
    void exactMethodFindsTheOptimalPartitionAndBeatsLloyd() {
        Random random = new Random(7);
        for (int trial = 0; trial < 20; trial++) {
            float[] weights = new float[14];
            for (int i = 0; i < weights.length; i++) {
                weights[i] = (float) (random.nextGaussian() * (i % 3 == 0 ? 3 : 1));
            }
            double[] sorted = new double[weights.length];
            for (int i = 0; i < weights.length; i++) {
                sorted[i] = weights[i];
            }
            Arrays.sort(sorted);
            KMeansSharing.Codebook codebook = KMeansSharing.cluster(weights, 4, true);
            assertThat(codebook.method()).isEqualTo("exact");
            assertThat(codebook.centroids()).hasSize(4);
            assertThat(squaredError(weights, codebook)).isCloseTo(bruteForce(sorted, 0, 4), org.assertj.core.data.Offset.offset(1e-4));

            double[] lloyd = new double[4];
            KMeansSharing.lloyd(sorted, lloyd);
            double lloydError = 0;
            for (double value : sorted) {
                double best = Double.POSITIVE_INFINITY;
                for (double centroid : lloyd) {
                    best = Math.min(best, (value - centroid) * (value - centroid));
                }
                lloydError += best;
            }
            assertThat(squaredError(weights, codebook)).isLessThanOrEqualTo(lloydError + 1e-4);
        }
    }

    @Test
    void fewerDistinctValuesThanClustersKeepsThemExactly() {
        float[] weights = {0.5f, -1f, 0.5f, 2f, -1f};
        KMeansSharing.Codebook codebook = KMeansSharing.cluster(weights, 16);
        assertThat(codebook.centroids()).containsExactly(-1f, 0.5f, 2f);
        assertThat(squaredError(weights, codebook)).isZero();
    }

    /**
     * 90% of the weights pruned to exactly 0 and many tiny survivors near 0: the zeros keep an entry of exactly 0 of their
     * own (both on the exact path and on Lloyd's), every survivor stays non-zero, and the survivors share the other entries.
     */
    @Test
    void prunedZerosKeepAnExactZeroEntryAndSurvivorsNeverTakeIt() {
        for (int clusters : new int[] {16, 64}) {
            // 2,000 survivors x 15 fit the exact method's budget; 150,000 x 63 do not, so Lloyd's runs
            java.util.Random random = new java.util.Random(5);
            float[] large = new float[clusters == 16 ? 20_000 : 1_500_000];
            for (int i = 0; i < large.length; i++) {
                large[i] = i % 10 == 0 ? (float) (random.nextGaussian() * 0.1) : 0f;
            }
            large[10] = 1e-6f;
            large[20] = -1e-6f;
            KMeansSharing.Codebook codebook = KMeansSharing.cluster(large, clusters, true);
            assertThat(codebook.centroids()).hasSize(clusters).contains(0f);
            int zeroIndex = java.util.Arrays.binarySearch(codebook.centroids(), 0f);
            for (int i = 0; i < large.length; i++) {
                boolean zero = (codebook.indices()[i] & 0xFF) == zeroIndex;
                assertThat(zero).as("weight %d (%s)", i, large[i]).isEqualTo(large[i] == 0f);
            }
            assertThat(codebook.method()).isEqualTo(clusters == 16 ? "exact" : "lloyd");
        }
    }

    @Test
    void lloydFromLinearInitialisationConvergesOnSeparatedGroups() {
        double[] sorted = {-5.1, -5, -4.9, 0, 0.1, 4.9, 5, 5.1};
        double[] centroids = new double[3];
        int iterations = KMeansSharing.lloyd(sorted, centroids);
        assertThat(iterations).isLessThan(KMeansSharing.MAX_LLOYD_ITERATIONS);
        assertThat(centroids[0]).isCloseTo(-5, org.assertj.core.data.Offset.offset(1e-9));
        assertThat(centroids[1]).isCloseTo(0.05, org.assertj.core.data.Offset.offset(1e-9));
        assertThat(centroids[2]).isCloseTo(5, org.assertj.core.data.Offset.offset(1e-9));
    }

    @Test
    void powersOfTwoRoundToTheNearestValueInTheirWindow() {
        // 4 bits: 7 exponents; max 1.0 gives top = floor(log2(4/3)) = 0, bottom = -6
        int bottom = PowerOfTwo.bottomExponent(1.0, 4);
        assertThat(bottom).isEqualTo(-6);
        assertThat(PowerOfTwo.value(1.0, bottom, 4)).isEqualTo(1.0);
        assertThat(PowerOfTwo.value(0.74, bottom, 4)).isEqualTo(0.5);
        assertThat(PowerOfTwo.value(-0.76, bottom, 4)).isEqualTo(-1.0);
        assertThat(PowerOfTwo.value(1.0 / 64, bottom, 4)).isEqualTo(1.0 / 64);
        assertThat(PowerOfTwo.value(1.0 / 130, bottom, 4)).isEqualTo(0.0);
        assertThat(PowerOfTwo.value(1.0 / 120, bottom, 4)).isEqualTo(1.0 / 64);
    }

    /**
     * Heavy-tailed weights (Laplace, like trained layers): the default (the paper's Lloyd from a linear start) spends
     * centroids on the tails, so its indices are used unevenly and have a lower entropy (fewer Huffman-coded bits) than
     * the least squared error partition's, whose error is in turn the lowest.
     */
    @Test
    void theDefaultLinearClusteringGivesCheaperIndicesThanTheOptimalOne() {
        java.util.Random random = new java.util.Random(17);
        float[] weights = new float[20_000];
        for (int i = 0; i < weights.length; i++) {
            double u = random.nextDouble() - 0.5;
            weights[i] = (float) (-Math.signum(u) * Math.log(1 - 2 * Math.abs(u)) * 0.05);
        }
        KMeansSharing.Codebook linear = KMeansSharing.cluster(weights, 64);
        KMeansSharing.Codebook optimal = KMeansSharing.cluster(weights, 64, true);
        assertThat(linear.method()).isEqualTo("lloyd");
        assertThat(optimal.method()).isEqualTo("exact");
        assertThat(entropy(linear)).isLessThan(entropy(optimal) - 0.3);
        assertThat(squaredError(weights, optimal)).isLessThanOrEqualTo(squaredError(weights, linear));
    }

    private static double entropy(KMeansSharing.Codebook codebook) {
        int[] counts = new int[256];
        for (byte index : codebook.indices()) {
            counts[index & 0xFF]++;
        }
        double bits = 0;
        for (int count : counts) {
            if (count > 0) {
                double p = (double) count / codebook.indices().length;
                bits -= p * Math.log(p) / Math.log(2);
            }
        }
        return bits;
    }
}
