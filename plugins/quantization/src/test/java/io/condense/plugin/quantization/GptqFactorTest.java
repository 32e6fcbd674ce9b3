package io.condense.plugin.quantization;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Random;
import org.assertj.core.data.Offset;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;
import org.ejml.dense.row.factory.DecompositionFactory_DDRM;
import org.ejml.interfaces.decomposition.CholeskyDecomposition_F64;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

/** GPTQ's factor: U upper triangular with U^T U = (H + damping I)^-1, by {@link InverseCholesky} in float32. */
class GptqFactorTest {
    /** 2 X^T X / samples for Gaussian inputs whose scale grows along the features. */
    private static DMatrixRMaj hessian(int n, int samples, long seed) {
        Random random = new Random(seed);
        DMatrixRMaj x = new DMatrixRMaj(samples, n);
        for (int i = 0; i < x.data.length; i++) {
            x.data[i] = random.nextGaussian() * (1 + (i % n) / 50.0);
        }
        DMatrixRMaj h = new DMatrixRMaj(n, n);
        CommonOps_DDRM.multTransA(x, x, h);
        CommonOps_DDRM.scale(2.0 / samples, h);
        return h;
    }

    /**
     * Orders around the panel (128), the chunk (128) and the four-column passes, below one panel, and several panels
     * with a short edge: every branch of the blocked factor and inverse.
     */
    @ParameterizedTest
    @ValueSource(ints = {1, 2, 3, 5, 127, 128, 129, 150, 300, 389})
    void theUpperFactorTimesItselfIsTheDampedInverseHessian(int n) {
        DMatrixRMaj h = hessian(n, n + 250, n);
        double damping = 0.05;
        float[][] upper = Gptq.inverseCholeskyUpper(h, damping);
        assertThat(upper).isNotNull().hasNumberOfRows(n);
        DMatrixRMaj u = new DMatrixRMaj(n, n);
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                u.set(i, j, upper[i][j]);
                if (j < i) {
                    assertThat(upper[i][j]).as("strictly lower (%d, %d)", i, j).isZero();
                }
            }
            assertThat(upper[i][i]).isPositive();
        }
        DMatrixRMaj product = new DMatrixRMaj(n, n);
        CommonOps_DDRM.multTransA(u, u, product);
        DMatrixRMaj damped = h.copy();
        for (int i = 0; i < n; i++) {
            damped.add(i, i, damping);
        }
        DMatrixRMaj identity = new DMatrixRMaj(n, n);
        CommonOps_DDRM.mult(product, damped, identity);
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                assertThat(identity.get(i, j)).as("(U^T U)(H + dI) at (%d, %d)", i, j).isCloseTo(i == j ? 1 : 0, Offset.offset(2e-4));
            }
        }
        // and U itself is the factor a double-precision library computes (the factor of a positive definite matrix is unique)
        DMatrixRMaj inverse = damped.copy();
        assertThat(CommonOps_DDRM.invert(inverse)).isTrue();
        CholeskyDecomposition_F64<DMatrixRMaj> cholesky = DecompositionFactory_DDRM.chol(n, false);
        assertThat(cholesky.decompose(inverse)).isTrue();
        DMatrixRMaj reference = cholesky.getT(null);
        double scale = CommonOps_DDRM.elementMaxAbs(reference);
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                assertThat((double) upper[i][j]).as("U (%d, %d)", i, j).isCloseTo(reference.get(i, j), Offset.offset(1e-4 * scale));
            }
        }
    }

    @Test
    void aFeatureNoInputReachedCountsAsOneAndTheHessianIsNotChanged() {
        int n = 140;
        DMatrixRMaj h = hessian(n, 400, 9);
        for (int i = 0; i < n; i++) {
            h.set(7, i, 0);
            h.set(i, 7, 0);
        }
        DMatrixRMaj before = h.copy();
        float[][] upper = Gptq.inverseCholeskyUpper(h, 0.01);
        assertThat(upper).isNotNull();
        assertThat(h.data).containsExactly(before.data);
        // feature 7 is coupled to nothing: its row of U is 1 / sqrt(1 + damping) on the diagonal and 0 elsewhere
        assertThat((double) upper[7][7]).isCloseTo(1 / Math.sqrt(1.01), Offset.offset(1e-6));
        for (int j = 8; j < n; j++) {
            assertThat(upper[7][j]).isZero();
        }
    }

    @Test
    void aMatrixThatIsNotPositiveDefiniteHasNoFactor() {
        int n = 200;
        DMatrixRMaj h = hessian(n, 400, 4);
        // a negative direction past the first panel: the factor fails in a later panel's diagonal block
        h.set(20, 20, -5.0);
        assertThat(Gptq.inverseCholeskyUpper(h, 0.0)).isNull();
        DMatrixRMaj nan = hessian(n, 400, 4);
        nan.set(3, 3, Double.NaN);
        assertThat(Gptq.inverseCholeskyUpper(nan, 0.01)).isNull();
    }
}
