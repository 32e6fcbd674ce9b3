package io.condense.plugin.lowrank;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class TruncatedSvdTest {

    /** A rows x cols matrix Q1 diag(s) Q2^T with s_i = decay^i and random orthonormal Q1, Q2 (by QR). */
    static double[] decayingSpectrum(int rows, int cols, double decay, long seed) {
        int smaller = Math.min(rows, cols);
        double[] left = orthonormalColumns(rows, smaller, seed);
        double[] right = orthonormalColumns(cols, smaller, seed + 1);
        double[] out = new double[rows * cols];
        double value = 1;
        for (int k = 0; k < smaller; k++) {
            for (int i = 0; i < rows; i++) {
                double scale = value * left[i * smaller + k];
                for (int j = 0; j < cols; j++) {
                    out[i * cols + j] += scale * right[j * smaller + k];
                }
            }
            value *= decay;
        }
        return out;
    }

    static double[] gaussian(int rows, int cols, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        double[] out = new double[rows * cols];
        for (int i = 0; i < out.length; i++) {
            // sum of 12 uniforms minus 6: close enough to a standard normal for a test matrix
            double sum = -6;
            for (int j = 0; j < 12; j++) {
                sum += random.nextDouble();
            }
            out[i] = sum;
        }
        return out;
    }

    private static double[] orthonormalColumns(int rows, int cols, long seed) {
        org.ejml.data.DMatrixRMaj matrix = org.ejml.data.DMatrixRMaj.wrap(rows, cols, gaussian(rows, cols, seed));
        return RandomizedSvd.orthonormalise(matrix).data;
    }

    static double relativeError(double[] matrix, double[] approximation) {
        double difference = 0;
        double norm = 0;
        for (int i = 0; i < matrix.length; i++) {
            double d = matrix[i] - approximation[i];
            difference += d * d;
            norm += matrix[i] * matrix[i];
        }
        return Math.sqrt(difference / norm);
    }

    @Test
    void fullSvdAtFullRankReconstructsTheMatrixAndSortsSingularValues() {
        double[] matrix = gaussian(40, 25, 7);
        TruncatedSvd svd = TruncatedSvd.full(matrix, 40, 25, 25);
        assertThat(relativeError(matrix, svd.reconstruct(25))).isLessThan(1e-12);
        for (int i = 1; i < 25; i++) {
            assertThat(svd.singularValue(i)).isLessThanOrEqualTo(svd.singularValue(i - 1));
        }
        // the factors (U_r S_r)(V_r^T) multiply back to the same approximation
        double[] left = svd.scaledLeft(10);
        double[] right = svd.rightTransposed(10);
        double[] product = new double[40 * 25];
        for (int i = 0; i < 40; i++) {
            for (int k = 0; k < 10; k++) {
                for (int j = 0; j < 25; j++) {
                    product[i * 25 + j] += left[i * 10 + k] * right[k * 25 + j];
                }
            }
        }
        assertThat(relativeError(svd.reconstruct(10), product)).isLessThan(1e-12);
    }

    @Test
    void truncationErrorIsTheDroppedEnergy() {
        double[] matrix = gaussian(60, 30, 3);
        TruncatedSvd svd = TruncatedSvd.full(matrix, 60, 30, 30);
        double total = svd.energy(30);
        double expected = Math.sqrt((total - svd.energy(12)) / total);
        assertThat(relativeError(matrix, svd.reconstruct(12))).isCloseTo(expected, within(1e-10));
    }

    @Test
    void randomizedMatchesFullOnADecayingSpectrum() {
        int rows = 300;
        int cols = 200;
        int rank = 20;
        double[] matrix = decayingSpectrum(rows, cols, 0.8, 11);
        TruncatedSvd full = TruncatedSvd.full(matrix, rows, cols, rank);
        TruncatedSvd randomized = new RandomizedSvd(10, 2, 5).decompose(matrix, rows, cols, rank);
        for (int i = 0; i < rank; i++) {
            assertThat(randomized.singularValue(i)).as("singular value %d", i).isCloseTo(full.singularValue(i),
                    within(1e-9 + 1e-6 * full.singularValue(i)));
        }
        double fullError = relativeError(matrix, full.reconstruct(rank));
        double randomizedError = relativeError(matrix, randomized.reconstruct(rank));
        assertThat(randomizedError).isLessThan(fullError * 1.0001 + 1e-12);
        assertOrthonormal(randomized, rows, cols, rank);
    }

    @Test
    void powerIterationsMatterOnAFlatSpectrum() {
        int rows = 200;
        int cols = 160;
        int rank = 20;
        double[] matrix = gaussian(rows, cols, 21);
        double fullError = relativeError(matrix, TruncatedSvd.full(matrix, rows, cols, rank).reconstruct(rank));
        double noPower = relativeError(matrix, new RandomizedSvd(10, 0, 5).decompose(matrix, rows, cols, rank).reconstruct(rank));
        double twoPower = relativeError(matrix, new RandomizedSvd(10, 2, 5).decompose(matrix, rows, cols, rank).reconstruct(rank));
        System.out.printf("flat spectrum, rank %d of %d x %d: relative error full %.4f, randomized q=0 %.4f, q=2 %.4f%n", rank, rows,
                cols, fullError, noPower, twoPower);
        // a random Gaussian matrix has no low-rank structure: every method keeps little, the sketch without power
        // iterations clearly less than the optimum, two power iterations close most of that gap
        assertThat(fullError).isGreaterThan(0.8);
        // (measured: full 0.8094, q=0 0.8722, q=2 0.8186)
        assertThat(noPower).isGreaterThan(fullError + 0.03);
        assertThat(twoPower).isLessThan(noPower).isLessThan(fullError + 0.02);
    }

    @Test
    void rankOutsideTheMatrixIsRefused() {
        assertThatThrownBy(() -> TruncatedSvd.full(new double[12], 3, 4, 4)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("rank must be in [1, 3]");
        assertThatThrownBy(() -> new RandomizedSvd(10, 2, 1).decompose(new double[12], 3, 4, 0))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void solverAutoTakesTheRandomizedPathOnlyForLargeMatricesAtLowRank() {
        SvdSolver auto = new SvdSolver(SvdSolver.Mode.AUTO, new RandomizedSvd(10, 2, 1));
        assertThat(auto.usesRandomized(1024, 1024, 64)).isTrue();
        assertThat(auto.usesRandomized(1024, 1024, 400)).isFalse();
        assertThat(auto.usesRandomized(320, 50, 10)).isFalse();
    }

    private static void assertOrthonormal(TruncatedSvd svd, int rows, int cols, int rank) {
        for (int a = 0; a < rank; a++) {
            for (int b = 0; b < rank; b++) {
                double left = 0;
                for (int i = 0; i < rows; i++) {
                    left += svd.left(i, a) * svd.left(i, b);
                }
                double right = 0;
                for (int j = 0; j < cols; j++) {
                    right += svd.right(j, a) * svd.right(j, b);
                }
                assertThat(left).isCloseTo(a == b ? 1 : 0, within(1e-9));
                assertThat(right).isCloseTo(a == b ? 1 : 0, within(1e-9));
            }
        }
    }
}
