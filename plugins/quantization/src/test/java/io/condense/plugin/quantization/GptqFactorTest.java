package io.condense.plugin.quantization;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Random;
import org.ejml.data.FMatrixRBlock;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.block.MatrixOps_FDRB;
import org.ejml.data.FMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;
import org.junit.jupiter.api.Test;

/** GPTQ's factor: U upper triangular with U^T U = (H + damping I)^-1, read out of EJML's block layout. */
class GptqFactorTest {
    @Test
    void blockIndexIsEjmlsLayoutIncludingTheShortEdgeBlocks() {
        int n = 150; // two full 64-blocks and a 22-wide edge
        FMatrixRMaj dense = new FMatrixRMaj(n, n);
        for (int i = 0; i < dense.data.length; i++) {
            dense.data[i] = i;
        }
        FMatrixRBlock blocks = MatrixOps_FDRB.convert(dense, 64);
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                assertThat(blocks.data[Gptq.blockIndex(n, i, j)]).as("(%d, %d)", i, j).isEqualTo((float) (i * n + j));
            }
        }
    }

    @Test
    void theUpperFactorTimesItselfIsTheDampedInverseHessian() {
        int n = 150;
        int samples = 400;
        Random random = new Random(3);
        DMatrixRMaj x = new DMatrixRMaj(samples, n);
        for (int i = 0; i < x.data.length; i++) {
            x.data[i] = random.nextGaussian() * (1 + (i % n) / 50.0);
        }
        DMatrixRMaj h = new DMatrixRMaj(n, n);
        CommonOps_DDRM.multTransA(x, x, h);
        CommonOps_DDRM.scale(2.0 / samples, h);
        double damping = 0.05;
        float[] upper = Gptq.inverseCholeskyUpper(h, damping);
        assertThat(upper).isNotNull();
        DMatrixRMaj u = new DMatrixRMaj(n, n);
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                u.set(i, j, upper[i * n + j]);
                if (j < i) {
                    assertThat(upper[i * n + j]).as("strictly lower (%d, %d)", i, j).isZero();
                }
            }
            assertThat(upper[i * n + i]).isPositive();
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
                assertThat(identity.get(i, j)).as("(U^T U)(H + dI) at (%d, %d)", i, j).isCloseTo(i == j ? 1 : 0, org.assertj.core.data.Offset.offset(1e-4));
            }
        }
    }
}
