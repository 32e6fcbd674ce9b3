package io.condense.plugin.binarization;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import io.condense.sdk.tensor.ChannelLayout;
import java.util.Random;
import org.junit.jupiter.api.Test;

class LowBitApproximationsTest {

    /** Two channels along axis 0 of a [2, 4] weight (a Conv-like layout: inner = 4). */
    private static final float[] TWO_ROWS = {0.5f, -1.5f, 2f, -1f, 0.1f, 0.2f, -0.3f, 0.4f};

    @Test
    void binaryWeightsScaleEachChannelByItsMeanMagnitude() {
        ChannelLayout layout = ChannelLayout.of(new long[] {2, 4}, 0);
        Approximation approximation = LowBitApproximations.binaryWeights(TWO_ROWS, layout);
        assertThat(approximation.bases()).isEqualTo(1);
        assertThat(approximation.scales()[0]).containsExactly(1.25f, 0.25f);
        assertThat(approximation.levels()[0]).containsExactly(1, -1, 1, -1, 1, 1, -1, 1);
    }

    @Test
    void channelsOnTheLastAxisAreGatheredAcrossRows() {
        // a MatMul weight [in=4, out=2]: channel 0 is column 0
        float[] weights = {1f, -10f, -3f, 20f, 2f, -30f, -2f, 40f};
        ChannelLayout layout = ChannelLayout.of(new long[] {4, 2}, 1);
        assertThat(layout).isEqualTo(new ChannelLayout(4, 2, 1));
        Approximation approximation = LowBitApproximations.binaryWeights(weights, layout);
        assertThat(approximation.scales()[0]).containsExactly(2f, 25f);
        assertThat(approximation.levels()[0]).containsExactly(1, -1, -1, 1, 1, -1, -1, 1);
    }

    @Test
    void ternaryWeightsDropSmallMagnitudesAndAverageTheKeptOnes() {
        ChannelLayout layout = ChannelLayout.of(new long[] {2, 4}, 0);
        // channel 0: mean |w| = 1.25, delta = 0.875: keeps -1.5, 2, -1 (mean 1.5); channel 1: mean 0.25, delta 0.175: keeps 0.2, -0.3, 0.4
        Approximation approximation = LowBitApproximations.ternaryWeights(TWO_ROWS, layout, 0.7);
        assertThat(approximation.levels()[0]).containsExactly(0, -1, 1, -1, 0, 1, -1, 1);
        assertThat(approximation.scales()[0][0]).isCloseTo(1.5f, within(1e-6f));
        assertThat(approximation.scales()[0][1]).isCloseTo(0.3f, within(1e-6f));
        assertThat(approximation.zeroShare()).isEqualTo(0.25);
    }

    @Test
    void anAllZeroChannelStaysExactlyZero() {
        float[] weights = {0f, 0f, 0f, 1f, -2f, 3f};
        ChannelLayout layout = ChannelLayout.of(new long[] {2, 3}, 0);
        float[] scratch = new float[6];
        for (Approximation approximation : new Approximation[] {
                LowBitApproximations.binaryWeights(weights, layout),
                LowBitApproximations.ternaryWeights(weights, layout, 0.7),
                LowBitApproximations.residualBinary(weights, layout, 3),
                LowBitApproximations.multipleBinaryBases(weights, layout, 3)}) {
            approximation.reconstruct(scratch);
            assertThat(scratch[0]).isZero();
            assertThat(scratch[1]).isZero();
            assertThat(scratch[2]).isZero();
            assertThat(approximation.minimumScale()).isGreaterThanOrEqualTo(0f);
        }
    }

    @Test
    void moreBasesAndHigherOrdersReconstructBetterOnGaussianWeights() {
        Random random = new Random(7);
        float[] weights = new float[64 * 75];
        for (int i = 0; i < weights.length; i++) {
            weights[i] = (float) (random.nextGaussian() * 0.05);
        }
        ChannelLayout layout = ChannelLayout.of(new long[] {64, 3, 5, 5}, 0);
        float[] scratch = new float[weights.length];
        double binary = LowBitApproximations.binaryWeights(weights, layout).relativeError(weights, scratch);
        double ternary = LowBitApproximations.ternaryWeights(weights, layout, 0.7).relativeError(weights, scratch);
        double previous = binary;
        for (int order = 2; order <= 4; order++) {
            double residual = LowBitApproximations.residualBinary(weights, layout, order).relativeError(weights, scratch);
            assertThat(residual).as("HORQ order %d against the order below", order).isLessThan(previous);
            previous = residual;
        }
        double previousBases = Double.POSITIVE_INFINITY;
        for (int bases = 2; bases <= 5; bases++) {
            double multiple = LowBitApproximations.multipleBinaryBases(weights, layout, bases).relativeError(weights, scratch);
            assertThat(multiple).as("ABC-Net with %d bases against fewer", bases).isLessThan(previousBases);
            previousBases = multiple;
        }
        // for a Gaussian, sign(W) * E|W| leaves sqrt(1 - 2/pi) = 0.603 of the norm; TWN about 0.52
        assertThat(binary).isCloseTo(Math.sqrt(1 - 2 / Math.PI), within(0.02));
        assertThat(ternary).isLessThan(binary);
        assertThat(LowBitApproximations.residualBinary(weights, layout, 1).relativeError(weights, scratch)).isEqualTo(binary);
    }

    @Test
    void leastSquaresScalesBeatAnyNudgeOfThem() {
        Random random = new Random(11);
        float[] weights = new float[200];
        for (int i = 0; i < weights.length; i++) {
            weights[i] = (float) (random.nextGaussian() + 0.3);
        }
        ChannelLayout layout = ChannelLayout.of(new long[] {1, 200}, 0);
        Approximation approximation = LowBitApproximations.multipleBinaryBases(weights, layout, 3);
        float[] scratch = new float[weights.length];
        double best = approximation.relativeError(weights, scratch);
        for (int k = 0; k < 3; k++) {
            for (float nudge : new float[] {-0.01f, 0.01f}) {
                float kept = approximation.scales()[k][0];
                approximation.scales()[k][0] = kept + nudge;
                assertThat(approximation.relativeError(weights, scratch)).as("basis %d scale nudged by %s", k, nudge).isGreaterThan(best);
                approximation.scales()[k][0] = kept;
            }
        }
        for (byte[] basis : approximation.levels()) {
            for (byte level : basis) {
                assertThat(level == 1 || level == -1).isTrue();
            }
        }
    }

    @Test
    void solvesASmallSystem() {
        double[] system = {0, 2, 4, 1, 1, 1}; // 2y = 4, x + y = 1 (needs a pivot swap)
        double[] solution = new double[2];
        LowBitApproximations.solve(system, 2, solution);
        assertThat(solution).containsExactly(-1.0, 2.0);
    }
}
