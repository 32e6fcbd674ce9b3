package io.condense.plugin.quantization;

import java.util.Arrays;

/**
 * Deep Compression's weight sharing for one layer: at most {@code clusters} shared values (the codebook, ascending)
 * and each weight's index into it. By default Lloyd's iterations from the linear initialisation the paper found best
 * (centroids evenly spaced over [min, max]): a local optimum that keeps centroids for the rare large weights, whose
 * skewed index use Huffman coding then shrinks. With {@code optimal}, exact 1-D k-means when it fits the work budget:
 * over the sorted weights, the least squared error partition into contiguous runs by dynamic programming (divide and
 * conquer over the monotone split points, with prefix sums for each run's squared error), else Lloyd's. Either way
 * each weight then takes its nearest centroid.
 *
 * <p>A pruned layer (some weights exactly zero, more distinct values than clusters) keeps its zeros exact, as Deep
 * Compression clusters only the surviving weights: the zeros get an entry of exactly 0 of their own, the other weights
 * share the remaining {@code clusters - 1} centroids and never take the zero entry. Clustered together, the zeros would
 * pull their small neighbours into one centroid slightly off zero (2e-7 on a 92% pruned LeNet-300-100 layer at 6
 * bits): the pruned weights would no longer be zero, and fine-tuning that codebook entry would sum the gradients of
 * every pruned weight.
 */
final class KMeansSharing {
    /** Largest weights x clusters the exact method takes (its split table holds that many ints). */
    static final long EXACT_BUDGET = 8_000_000L;
    static final int MAX_LLOYD_ITERATIONS = 300;

    private KMeansSharing() {
    }

    /** The shared values, each weight's index, the method used and its Lloyd iterations (0 for the exact method). */
    record Codebook(float[] centroids, byte[] indices, String method, int iterations) {
    }

    /** The paper's clustering: Lloyd's iterations from the linear initialisation. */
    static Codebook cluster(float[] weights, int clusters) {
        return cluster(weights, clusters, false);
    }

    static Codebook cluster(float[] weights, int clusters, boolean optimal) {
        double[] sorted = new double[weights.length];
        for (int i = 0; i < weights.length; i++) {
            sorted[i] = weights[i];
        }
        Arrays.sort(sorted);
        int distinct = 0;
        int zeros = 0;
        for (int i = 0; i < sorted.length; i++) {
            if (i == 0 || sorted[i] != sorted[i - 1]) {
                distinct++;
            }
            if (sorted[i] == 0) {
                zeros++;
            }
        }
        if (distinct > clusters && zeros > 0 && zeros < weights.length && clusters > 2) {
            float[] kept = new float[weights.length - zeros];
            int next = 0;
            for (float weight : weights) {
                if (weight != 0) {
                    kept[next++] = weight;
                }
            }
            return withZeroEntry(weights, cluster(kept, clusters - 1, optimal));
        }
        double[] centroids;
        String method;
        int iterations = 0;
        if (distinct <= clusters) {
            centroids = new double[distinct];
            int next = 0;
            for (int i = 0; i < sorted.length; i++) {
                if (i == 0 || sorted[i] != sorted[i - 1]) {
                    centroids[next++] = sorted[i];
                }
            }
            method = "exact";
        } else if (optimal && (long) sorted.length * clusters <= EXACT_BUDGET) {
            centroids = exact(sorted, clusters);
            method = "exact";
        } else {
            double[] result = new double[clusters];
            iterations = lloyd(sorted, result);
            centroids = result;
            method = "lloyd";
        }
        float[] codebook = new float[centroids.length];
        for (int i = 0; i < codebook.length; i++) {
            codebook[i] = (float) centroids[i];
        }
        Arrays.sort(codebook);
        byte[] indices = new byte[weights.length];
        for (int i = 0; i < weights.length; i++) {
            indices[i] = (byte) nearest(codebook, weights[i]);
        }
        return new Codebook(codebook, indices, method, iterations);
    }

    /** The codebook of the non-zero weights with an entry of exactly 0 inserted in order; zeros index it, the others skip it. */
    private static Codebook withZeroEntry(float[] weights, Codebook nonZero) {
        float[] shared = nonZero.centroids();
        int zeroIndex = 0;
        while (zeroIndex < shared.length && shared[zeroIndex] < 0) {
            zeroIndex++;
        }
        float[] codebook = new float[shared.length + 1];
        System.arraycopy(shared, 0, codebook, 0, zeroIndex);
        System.arraycopy(shared, zeroIndex, codebook, zeroIndex + 1, shared.length - zeroIndex);
        byte[] indices = new byte[weights.length];
        for (int i = 0; i < weights.length; i++) {
            if (weights[i] == 0) {
                indices[i] = (byte) zeroIndex;
            } else {
                int index = nearest(shared, weights[i]);
                indices[i] = (byte) (index < zeroIndex ? index : index + 1);
            }
        }
        return new Codebook(codebook, indices, nonZero.method(), nonZero.iterations());
    }

    /** The index of the centroid nearest to {@code value} in an ascending codebook. */
    static int nearest(float[] codebook, float value) {
        int position = Arrays.binarySearch(codebook, value);
        if (position >= 0) {
            return position;
        }
        int above = -position - 1;
        if (above == 0) {
            return 0;
        }
        if (above == codebook.length) {
            return codebook.length - 1;
        }
        return value - codebook[above - 1] <= codebook[above] - value ? above - 1 : above;
    }

    /** Optimal centroids of {@code clusters} contiguous runs of the sorted values (minimum total squared error). */
    private static double[] exact(double[] sorted, int clusters) {
        int n = sorted.length;
        double[] sums = new double[n + 1];
        double[] squares = new double[n + 1];
        for (int i = 0; i < n; i++) {
            sums[i + 1] = sums[i] + sorted[i];
            squares[i + 1] = squares[i] + sorted[i] * sorted[i];
        }
        double[] previous = new double[n];
        double[] current = new double[n];
        for (int end = 0; end < n; end++) {
            previous[end] = cost(sums, squares, 0, end);
        }
        int[][] starts = new int[clusters][];
        for (int cluster = 1; cluster < clusters; cluster++) {
            int[] start = new int[n];
            Arrays.fill(current, Double.POSITIVE_INFINITY);
            divide(cluster, cluster, n - 1, cluster, n - 1, previous, current, start, sums, squares);
            starts[cluster] = start;
            double[] swap = previous;
            previous = current;
            current = swap;
        }
        double[] centroids = new double[clusters];
        int end = n - 1;
        for (int cluster = clusters - 1; cluster >= 0; cluster--) {
            int start = cluster == 0 ? 0 : starts[cluster][end];
            centroids[cluster] = (sums[end + 1] - sums[start]) / (end - start + 1);
            end = start - 1;
        }
        return centroids;
    }

    /** Fills current[from..to] (the last run ends there) trying run starts in [low, high]; split points are monotone. */
    private static void divide(int cluster, int from, int to, int low, int high, double[] previous, double[] current, int[] start,
            double[] sums, double[] squares) {
        if (from > to) {
            return;
        }
        int middle = (from + to) >>> 1;
        double best = Double.POSITIVE_INFINITY;
        int bestStart = Math.max(low, cluster);
        for (int first = Math.max(low, cluster); first <= Math.min(middle, high); first++) {
            double value = previous[first - 1] + cost(sums, squares, first, middle);
            if (value < best) {
                best = value;
                bestStart = first;
            }
        }
        current[middle] = best;
        start[middle] = bestStart;
        divide(cluster, from, middle - 1, low, bestStart, previous, current, start, sums, squares);
        divide(cluster, middle + 1, to, bestStart, high, previous, current, start, sums, squares);
    }

    private static double cost(double[] sums, double[] squares, int first, int last) {
        int count = last - first + 1;
        double sum = sums[last + 1] - sums[first];
        return Math.max(0, squares[last + 1] - squares[first] - sum * sum / count);
    }

    /** Lloyd's iterations over sorted values from centroids evenly spaced over [min, max]; returns the iterations run. */
    static int lloyd(double[] sorted, double[] centroids) {
        int clusters = centroids.length;
        double min = sorted[0];
        double max = sorted[sorted.length - 1];
        for (int i = 0; i < clusters; i++) {
            centroids[i] = min + (max - min) * i / (clusters - 1);
        }
        double[] sums = new double[clusters];
        int[] counts = new int[clusters];
        for (int iteration = 1; iteration <= MAX_LLOYD_ITERATIONS; iteration++) {
            Arrays.fill(sums, 0);
            Arrays.fill(counts, 0);
            int cluster = 0;
            for (double value : sorted) {
                // sorted values: the nearest centroid only moves up
                while (cluster + 1 < clusters && centroids[cluster + 1] - value < value - centroids[cluster]) {
                    cluster++;
                }
                sums[cluster] += value;
                counts[cluster]++;
            }
            boolean changed = false;
            for (int i = 0; i < clusters; i++) {
                if (counts[i] > 0) {
                    double mean = sums[i] / counts[i];
                    changed |= mean != centroids[i];
                    centroids[i] = mean;
                }
            }
            Arrays.sort(centroids);
            if (!changed) {
                return iteration;
            }
        }
        return MAX_LLOYD_ITERATIONS;
    }
}
