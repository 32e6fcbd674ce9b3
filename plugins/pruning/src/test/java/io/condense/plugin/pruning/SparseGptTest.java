package io.condense.plugin.pruning;

import io.condense.sdk.sparsity.MagnitudeMasks;
import io.condense.sdk.sparsity.NmPattern;
import io.condense.sdk.sparsity.WeightMatrix;
import java.util.Random;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;
import org.junit.jupiter.api.Test;
import static org.assertj.core.api.Assertions.assertThat;

/** SparseGPT on synthetic layers with correlated inputs: exact zero counts, N:M groups, and a smaller output error than magnitude. */
class SparseGptTest {
    private static final int ROWS = 24;
    private static final int COLUMNS = 300;
    private static final int SAMPLES = 2000;

    /** Inputs whose features are strongly correlated (a few latent factors plus noise), as real activations are. */
    private static DMatrixRMaj inputs(Random random) {
        int factors = 20;
        DMatrixRMaj mixing = new DMatrixRMaj(factors, COLUMNS);
        for (int i = 0; i < mixing.data.length; i++) {
            mixing.data[i] = random.nextGaussian();
        }
        DMatrixRMaj latent = new DMatrixRMaj(SAMPLES, factors);
        for (int i = 0; i < latent.data.length; i++) {
            latent.data[i] = random.nextGaussian();
        }
        DMatrixRMaj x = new DMatrixRMaj(SAMPLES, COLUMNS);
        CommonOps_DDRM.mult(latent, mixing, x);
        for (int i = 0; i < x.data.length; i++) {
            x.data[i] += 0.3 * random.nextGaussian();
        }
        return x;
    }

    private static double outputError(DMatrixRMaj x, double[][] original, double[][] pruned) {
        DMatrixRMaj difference = new DMatrixRMaj(COLUMNS, ROWS);
        for (int r = 0; r < ROWS; r++) {
            for (int c = 0; c < COLUMNS; c++) {
                difference.set(c, r, original[r][c] - pruned[r][c]);
            }
        }
        DMatrixRMaj out = new DMatrixRMaj(SAMPLES, ROWS);
        CommonOps_DDRM.mult(x, difference, out);
        return CommonOps_DDRM.elementSumAbs(out);
    }

    private static double[][] copy(double[][] weights) {
        double[][] copy = new double[weights.length][];
        for (int i = 0; i < weights.length; i++) {
            copy[i] = weights[i].clone();
        }
        return copy;
    }

    @Test
    void unstructuredAndNmPruningReachTheirTargetsWithLessOutputErrorThanMagnitude() {
        Random random = new Random(7);
        DMatrixRMaj x = inputs(random);
        DMatrixRMaj hessian = new DMatrixRMaj(COLUMNS, COLUMNS);
        CommonOps_DDRM.multTransA(x, x, hessian);
        double[][] weights = new double[ROWS][COLUMNS];
        float[] flat = new float[ROWS * COLUMNS];
        for (int r = 0; r < ROWS; r++) {
            for (int c = 0; c < COLUMNS; c++) {
                weights[r][c] = random.nextGaussian();
                flat[r * COLUMNS + c] = (float) weights[r][c];
            }
        }
        WeightMatrix matrix = new WeightMatrix(1, ROWS, COLUMNS, COLUMNS, 1, true);
        for (double sparsity : new double[] {0.5, 0.8}) {
            double[][] pruned = copy(weights);
            long zeros = SparseGpt.prune(pruned, hessian, matrix, sparsity, null);
            long counted = 0;
            for (double[] row : pruned) {
                for (double value : row) {
                    counted += value == 0 ? 1 : 0;
                }
            }
            assertThat(zeros).isEqualTo(Math.round(sparsity * ROWS * COLUMNS));
            assertThat(counted).isEqualTo(zeros);
            float[] magnitude = MagnitudeMasks.magnitude(flat, sparsity);
            double[][] magnitudeRows = new double[ROWS][COLUMNS];
            for (int r = 0; r < ROWS; r++) {
                for (int c = 0; c < COLUMNS; c++) {
                    magnitudeRows[r][c] = magnitude[r * COLUMNS + c];
                }
            }
            double data = outputError(x, weights, pruned);
            double plain = outputError(x, weights, magnitudeRows);
            System.out.printf("sparsity %.1f: output error sparsegpt %.1f, magnitude %.1f%n", sparsity, data, plain);
            assertThat(data).isLessThan(0.7 * plain);
        }
        NmPattern pattern = new NmPattern(2, 4);
        double[][] pruned = copy(weights);
        SparseGpt.prune(pruned, hessian, matrix, 0, pattern);
        for (double[] row : pruned) {
            for (int start = 0; start < COLUMNS; start += 4) {
                int nonZeros = 0;
                for (int c = start; c < start + 4; c++) {
                    nonZeros += row[c] != 0 ? 1 : 0;
                }
                assertThat(nonZeros).isEqualTo(2);
            }
        }
        float[] magnitude = MagnitudeMasks.magnitudePattern(flat, matrix, pattern);
        double[][] magnitudeRows = new double[ROWS][COLUMNS];
        for (int r = 0; r < ROWS; r++) {
            for (int c = 0; c < COLUMNS; c++) {
                magnitudeRows[r][c] = magnitude[r * COLUMNS + c];
            }
        }
        assertThat(outputError(x, weights, pruned)).isLessThan(0.7 * outputError(x, weights, magnitudeRows));
    }

    @Test
    void inverseCholeskyFactorSatisfiesItsDefinition() {
        Random random = new Random(3);
        int n = 40;
        DMatrixRMaj x = new DMatrixRMaj(100, n);
        for (int i = 0; i < x.data.length; i++) {
            x.data[i] = random.nextGaussian();
        }
        DMatrixRMaj hessian = new DMatrixRMaj(n, n);
        CommonOps_DDRM.multTransA(x, x, hessian);
        float[][] factor = SparseGpt.inverseCholeskyFactor(hessian);
        DMatrixRMaj u = new DMatrixRMaj(n, n);
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                u.set(i, j, factor[i][j]);
            }
        }
        DMatrixRMaj inverse = new DMatrixRMaj(n, n);
        CommonOps_DDRM.multTransA(u, u, inverse);
        DMatrixRMaj damped = hessian.copy();
        double mean = CommonOps_DDRM.trace(hessian) / n;
        for (int i = 0; i < n; i++) {
            damped.add(i, i, SparseGpt.DAMPING * mean);
            for (int j = 0; j < i; j++) {
                assertThat(factor[i][j]).isZero();
            }
        }
        DMatrixRMaj identity = new DMatrixRMaj(n, n);
        CommonOps_DDRM.mult(damped, inverse, identity);
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                // float32, as SparseGPT's reference factor
                assertThat(identity.get(i, j)).isCloseTo(i == j ? 1 : 0, org.assertj.core.data.Offset.offset(1e-4));
            }
        }
    }

    @Test
    void deadInputsAreHandledByTheDamping() {
        DMatrixRMaj hessian = new DMatrixRMaj(8, 8);
        for (int i = 0; i < 4; i++) {
            hessian.set(i, i, 2.0);
        }
        double[][] weights = new double[2][8];
        for (int c = 0; c < 8; c++) {
            weights[0][c] = c + 1;
            weights[1][c] = -(c + 1);
        }
        long zeros = SparseGpt.prune(weights, hessian, new WeightMatrix(1, 2, 8, 8, 1, true), 0.5, null);
        assertThat(zeros).isEqualTo(8);
        // the inputs that never fire (columns 4..7) cost nothing to remove: they go first, however large their weights
        for (double[] row : weights) {
            assertThat(row[4]).isZero();
            assertThat(row[7]).isZero();
            assertThat(row[0]).isNotZero();
        }
    }
}
