package io.condense.sdk.quantization;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import io.condense.sdk.tensor.DataType;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

class ActivationHistogramTest {

    @Test
    void keepsExactMinMaxAndEveryCountWhileTheLimitDoubles() {
        ActivationHistogram histogram = new ActivationHistogram(16);
        histogram.add(new float[] {0, 0}, 0, 2);
        histogram.add(new float[] {1f, -0.5f}, 0, 2);
        assertThat(histogram.limit()).isEqualTo(2.0);
        histogram.add(new float[] {7f, -3f, 0.25f}, 0, 3);
        assertThat(histogram.limit()).isEqualTo(8.0);
        assertThat(histogram.min()).isEqualTo(-3f);
        assertThat(histogram.max()).isEqualTo(7f);
        assertThat(histogram.count()).isEqualTo(7);
        long[] counts = histogram.counts();
        assertThat(Arrays.stream(counts).sum()).isEqualTo(7);
        // bins of width 1 over [-8, 8): 7 in [7, 8), -3 in [-3, -2), 1 in [1, 2), 0, 0, 0.25 in [0, 1), -0.5 in [-1, 0)
        assertThat(counts[15]).isEqualTo(1);
        assertThat(counts[5]).isEqualTo(1);
        assertThat(counts[9]).isEqualTo(1);
        assertThat(counts[8]).isEqualTo(3);
        assertThat(counts[7]).isEqualTo(1);
        assertThat(histogram.magnitudeCounts()).containsExactly(4, 1, 1, 0, 0, 0, 0, 1);
    }

    @Test
    void refusesNonFiniteValuesNamingTheIndex() {
        ActivationHistogram histogram = new ActivationHistogram();
        assertThatThrownBy(() -> histogram.add(new float[] {1, Float.NaN}, 0, 2)).hasMessageContaining("index 1");
    }

    @Test
    void methodsChooseSensibleRangesOnAGaussianWithOutliers() {
        Random random = new Random(42);
        float[] values = new float[100_000];
        for (int i = 0; i < values.length; i++) {
            values[i] = (float) random.nextGaussian();
        }
        values[0] = 40f;
        ActivationHistogram histogram = new ActivationHistogram();
        for (int start = 0; start < values.length; start += 1000) {
            histogram.add(values, start, 1000);
        }
        ActivationRange minmax = CalibrationMethod.MINMAX.choose(histogram, true, 0);
        assertThat(minmax.max()).isEqualTo(40f);
        ActivationRange percentile = CalibrationMethod.PERCENTILE.choose(histogram, true, 99.9);
        assertThat((double) percentile.magnitude()).isBetween(3.0, 4.0);
        ActivationRange entropy = CalibrationMethod.ENTROPY.choose(histogram, true, 0);
        assertThat((double) entropy.magnitude()).as("the outlier at 40 is clipped").isBetween(2.0, 15.0);
        ActivationRange mse = CalibrationMethod.MSE.choose(histogram, true, 0);
        // squared error (40 - T)^2 of the outlier against 100,000 (T / 127)^2 / 12 of rounding: least at T = 26.4
        assertThat((double) mse.magnitude()).isCloseTo(26.4, within(1.0));
        assertThat(CalibrationMethod.fromParameter("entropy")).isEqualTo(CalibrationMethod.ENTROPY);
    }

    @Test
    void quantizationMatchesQuantizeLinear() {
        ActivationQuantization unsigned = ActivationQuantization.of(new ActivationRange(-1f, 3f), false);
        assertThat(unsigned.type()).isEqualTo(DataType.UINT8);
        assertThat((double) unsigned.scale()).isCloseTo(4.0 / 255, within(1e-7));
        assertThat(unsigned.zeroPoint()).isEqualTo(64);
        assertThat(unsigned.roundTrip(0f)).isZero();
        assertThat(unsigned.quantize(100f)).isEqualTo(255);
        ActivationQuantization signed = ActivationQuantization.of(new ActivationRange(0f, 2.54f), true);
        assertThat(signed.type()).isEqualTo(DataType.INT8);
        assertThat(signed.zeroPoint()).isZero();
        assertThat(signed.quantize(-5f)).isEqualTo(-128);
        assertThat(signed.quantize(0.03f)).as("half to even: 1.5 -> 2").isEqualTo(2);
        assertThat(ActivationQuantization.of(new ActivationRange(0f, 0f), false).scale()).isEqualTo(1f);
    }
}
