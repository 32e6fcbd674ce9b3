package io.condense.plugin.quantization;

import static org.assertj.core.api.Assertions.assertThat;

import io.condense.sdk.tensor.ChannelLayout;
import java.util.Random;
import org.junit.jupiter.api.Test;

class SymmetricQuantizerTest {

    @Test
    void perChannelScalesFollowTheChannelAxis() {
        // [2 outer, 3 channels, 2 inner]: channel c holds c+1 times the base values
        float[] weights = new float[12];
        for (int o = 0; o < 2; o++) {
            for (int c = 0; c < 3; c++) {
                for (int j = 0; j < 2; j++) {
                    weights[(o * 3 + c) * 2 + j] = (c + 1) * (j == 0 ? 0.5f : -1f) * (o + 1);
                }
            }
        }
        ChannelLayout layout = ChannelLayout.of(new long[] {2, 3, 2}, 1);
        assertThat(layout).isEqualTo(new ChannelLayout(2, 3, 2));
        float[] scales = new float[3];
        assertThat(SymmetricQuantizer.scales(weights, layout, scales)).isEqualTo(-1);
        assertThat(scales).containsExactly(2f / 127, 4f / 127, 6f / 127);
        byte[] quantized = new byte[12];
        SymmetricQuantizer.quantize(weights, layout, scales, quantized);
        // the largest magnitude of each channel maps to -127
        assertThat(quantized[(1 * 3 + 2) * 2 + 1]).isEqualTo((byte) -127);
        assertThat(quantized[(1 * 3 + 2) * 2]).isEqualTo((byte) 64); // 3 / (6/127) = 63.5 -> 64 (half to even)
    }

    @Test
    void zeroChannelGetsAUsableScaleAndQuantizesToZero() {
        float[] weights = {0f, 0f, 0f, 1f, -2f, 0.5f};
        ChannelLayout layout = ChannelLayout.of(new long[] {2, 3}, 0);
        float[] scales = new float[2];
        SymmetricQuantizer.scales(weights, layout, scales);
        assertThat(scales[0]).isEqualTo(1f);
        byte[] quantized = new byte[6];
        SymmetricQuantizer.Energies energies = SymmetricQuantizer.quantize(weights, layout, scales, quantized);
        assertThat(quantized).containsExactly(0, 0, 0, 64, -127, 32);
        assertThat(energies.sqnrDb()).isGreaterThan(30);
    }

    @Test
    void matMulLayoutWithChannelsLastMatchesTheGeneralLoop() {
        Random random = new Random(3);
        float[] weights = new float[64 * 10];
        for (int i = 0; i < weights.length; i++) {
            weights[i] = (float) random.nextGaussian() * (1 + i % 10);
        }
        ChannelLayout channelsLast = ChannelLayout.of(new long[] {64, 10}, 1);
        ChannelLayout sameWithInner = ChannelLayout.of(new long[] {64, 10, 1}, 1);
        float[] scalesA = new float[10];
        float[] scalesB = new float[10];
        SymmetricQuantizer.scales(weights, channelsLast, scalesA);
        SymmetricQuantizer.scales(weights, sameWithInner, scalesB);
        assertThat(scalesA).containsExactly(scalesB);
        byte[] a = new byte[weights.length];
        byte[] b = new byte[weights.length];
        double sqnrA = SymmetricQuantizer.quantize(weights, channelsLast, scalesA, a).sqnrDb();
        double sqnrB = SymmetricQuantizer.quantize(weights, sameWithInner, scalesB, b).sqnrDb();
        assertThat(a).containsExactly(b);
        assertThat(sqnrA).isCloseTo(sqnrB, org.assertj.core.data.Offset.offset(1e-3));
        // int8 symmetric on Gaussian weights: about 6 dB per bit, minus the peak-to-rms loss
        assertThat(sqnrA).isBetween(30.0, 50.0);
    }

    @Test
    void nonFiniteWeightIsFound() {
        float[] weights = {1f, Float.NaN, 2f, 3f};
        float[] scales = new float[1];
        assertThat(SymmetricQuantizer.scales(weights, ChannelLayout.perTensor(4), scales)).isEqualTo(1);
    }
}
