package io.condense.sdk.linalg;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Random;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** U upper triangular with U^T U = (H + damping I)^-1, in float32, checked in double arithmetic written out here. */
class InverseCholeskyTest {
    /** 2 X^T X / samples (row-major) for Gaussian inputs whose scale grows along the features. */
    private static double[] hessian(int n, int samples, long seed) {
        Random random = new Random(seed);
        double[][] x = new double[samples][n];
        for (int s = 0; s < samples; s++) {
            for (int i = 0; i < n; i++) {
                x[s][i] = random.nextGaussian() * (1 + i / 50.0);
            }
        }
        double[] h = new double[n * n];
        for (int s = 0; s < samples; s++) {
            double[] sample = x[s];
            for (int i = 0; i < n; i++) {
                double value = sample[i] * 2.0 / samples;
                for (int j = 0; j < n; j++) {
                    h[i * n + j] += value * sample[j];
                }
            }
        }
        return h;
    }

    /**
     * Orders around the panel (128), the chunk (512) and the four-row passes, below one panel, and several panels with
     * a short edge: every branch of the blocked factor and inverse.
     */
    @ParameterizedTest
    @ValueSource(ints = {1, 2, 3, 5, 127, 128, 129, 150, 300, 389, 600})
    void theUpperFactorTimesItselfIsTheDampedInverseHessian(int n) {
        double[] h = hessian(n, n + 250, n);
        double damping = 0.05;
        float[][] upper = InverseCholesky.upper(h, n, damping, 1);
        assertThat(upper).isNotNull().hasNumberOfRows(n);
        for (int i = 0; i < n; i++) {
            assertThat(upper[i]).hasSize(n);
            for (int j = 0; j < i; j++) {
                assertThat(upper[i][j]).as("strictly lower (%d, %d)", i, j).isZero();
            }
            assertThat(upper[i][i]).isPositive();
        }
        // P = U^T U, then P (H + dI) must be the identity
        double[][] product = new double[n][n];
        for (int k = 0; k < n; k++) {
            float[] row = upper[k];
            for (int i = k; i < n; i++) {
                double value = row[i];
                for (int j = k; j < n; j++) {
                    product[i][j] += value * row[j];
                }
            }
        }
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                double sum = 0;
                for (int k = 0; k < n; k++) {
                    sum += product[i][k] * (h[k * n + j] + (k == j ? damping : 0));
                }
                assertThat(sum).as("(U^T U)(H + dI) at (%d, %d)", i, j).isCloseTo(i == j ? 1 : 0, Offset.offset(2e-4));
            }
        }
    }

    @Test
    void aFeatureNoInputReachedCountsAsGivenAndTheHessianIsNotChanged() {
        int n = 140;
        double[] h = hessian(n, 400, 9);
        for (int i = 0; i < n; i++) {
            h[7 * n + i] = 0;
            h[i * n + 7] = 0;
        }
        double[] before = h.clone();
        float[][] upper = InverseCholesky.upper(h, n, 0.01, 1);
        assertThat(upper).isNotNull();
        assertThat(h).containsExactly(before);
        // feature 7 is coupled to nothing: its row of U is 1 / sqrt(1 + damping) on the diagonal and 0 elsewhere
        assertThat((double) upper[7][7]).isCloseTo(1 / Math.sqrt(1.01), Offset.offset(1e-6));
        for (int j = 8; j < n; j++) {
            assertThat(upper[7][j]).isZero();
        }
        // counted as 0, the damping alone is its diagonal
        assertThat((double) InverseCholesky.upper(h, n, 0.01, 0)[7][7]).isCloseTo(1 / Math.sqrt(0.01), Offset.offset(1e-4));
    }

    @Test
    void aMatrixThatIsNotPositiveDefiniteHasNoFactor() {
        int n = 200;
        double[] h = hessian(n, 400, 4);
        // a negative direction past the first panel (the factor runs on H reversed): a later panel's pivot fails
        h[20 * n + 20] = -5.0;
        assertThat(InverseCholesky.upper(h, n, 0.0, 1)).isNull();
        double[] nan = hessian(n, 400, 4);
        nan[3 * n + 3] = Double.NaN;
        assertThat(InverseCholesky.upper(nan, n, 0.01, 1)).isNull();
    }

    @Test
    void theKernelsSubtractOverTheRangeOnly() {
        float[] target = {1, 1, 1, 1, 1, 1};
        float[] x = {1, 2, 3, 4, 5, 6};
        InverseCholesky.multiplySubtract(target, 0.5f, x, 1, 4);
        assertThat(target).containsExactly(1f, 0f, -0.5f, -1f, 1f, 1f);
        float[] four = {10, 10, 10};
        InverseCholesky.multiplySubtract4(four, 1, new float[] {1, 1, 1}, 2, new float[] {1, 1, 1}, 3, new float[] {1, 1, 1}, 4,
                new float[] {0, 1, 2}, 0, 2);
        assertThat(four).containsExactly(4f, 0f, 10f);
        // rows chosen by index (from an offset): five of them, so one pass of four and one alone
        float[][] rows = new float[7][];
        for (int r = 0; r < rows.length; r++) {
            rows[r] = new float[] {r, r, r};
        }
        float[] sum = {100, 100, 100};
        float[] coefficients = {1, 2, 3, 4, 5, 6};
        InverseCholesky.multiplySubtractRows(sum, coefficients, new int[] {0, 2, 3, 4, 5}, 5, rows, 1, 1, 3);
        // 100 - (1 x 1 + 3 x 3 + 4 x 4 + 5 x 5 + 6 x 6)
        assertThat(sum).containsExactly(100f, 13f, 13f);
    }
}
