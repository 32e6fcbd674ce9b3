package io.condense.sdk.sparsity;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

class MagnitudeThresholdTest {

    private static int[] bits(float... values) {
        int[] bits = new int[values.length];
        for (int i = 0; i < values.length; i++) {
            bits[i] = Float.floatToRawIntBits(values[i]);
        }
        return bits;
    }

    private static float[] floats(byte[] littleEndian) {
        float[] values = new float[littleEndian.length / 4];
        java.nio.ByteBuffer.wrap(littleEndian).order(java.nio.ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(values);
        return values;
    }

    /** Prunes into a new byte array and returns it as floats, with what apply reported. */
    private static float[] prune(int[] values, MagnitudeThreshold.Threshold threshold, long ties, MagnitudeThreshold.Applied[] applied) {
        byte[] out = new byte[values.length * 4];
        int[] before = values.clone();
        applied[0] = MagnitudeThreshold.apply(values, threshold.bits(), ties, out);
        assertThat(values).as("apply leaves its input alone").containsExactly(before);
        return floats(out);
    }

    @Test
    void zeroesExactlyTheRequestedCountOfSmallestMagnitudes() {
        Random random = new Random(7);
        MagnitudeThreshold threshold = new MagnitudeThreshold();
        for (int trial = 0; trial < 50; trial++) {
            int length = 1 + random.nextInt(5000);
            float[] original = new float[length];
            for (int i = 0; i < length; i++) {
                // a few repeated values, exact zeros and negative zeros make ties
                int kind = random.nextInt(12);
                original[i] = kind == 0 ? 0f : kind == 1 ? -0f : kind < 4 ? 0.25f * (random.nextBoolean() ? 1 : -1) : (float) random.nextGaussian();
            }
            int[] values = bits(original);
            int count = random.nextInt(length + 1);
            MagnitudeThreshold.Threshold found = threshold.find(new int[][] {values}, count);
            MagnitudeThreshold.Applied[] result = new MagnitudeThreshold.Applied[1];
            float[] pruned = prune(values, found, found.ties(), result);
            MagnitudeThreshold.Applied applied = result[0];

            float[] magnitudes = new float[length];
            for (int i = 0; i < length; i++) {
                magnitudes[i] = Math.abs(original[i]);
            }
            Arrays.sort(magnitudes);
            int zerosBefore = 0;
            int zerosAfter = 0;
            for (int i = 0; i < length; i++) {
                zerosBefore += original[i] == 0f ? 1 : 0;
                zerosAfter += pruned[i] == 0f ? 1 : 0;
                if (pruned[i] != 0f) {
                    assertThat(pruned[i]).as("kept values are unchanged").isEqualTo(original[i]);
                }
            }
            assertThat(zerosAfter).as("zeros after pruning %d of %d", count, length).isEqualTo(Math.max(count, zerosBefore));
            assertThat(applied.nonZeros()).isEqualTo(length - zerosAfter);
            assertThat(found.zeros()).as("zeros predicted before applying").isEqualTo(zerosAfter);

            // the straight-to-sparse path keeps exactly the non-zeros of the dense path, in order
            int[] keptValues = new int[length - zerosAfter + 1];
            long[] keptIndices = new long[length - zerosAfter + 1];
            int kept = MagnitudeThreshold.applySparse(values, found.bits(), found.ties(), keptValues, keptIndices);
            assertThat(kept).isEqualTo(length - zerosAfter);
            int next = 0;
            for (int i = 0; i < length; i++) {
                if (pruned[i] != 0f) {
                    assertThat(keptIndices[next]).isEqualTo(i);
                    assertThat(Float.intBitsToFloat(keptValues[next])).isEqualTo(pruned[i]);
                    next++;
                }
            }
            if (count > 0) {
                assertThat(found.magnitude()).as("threshold is the %d-th smallest magnitude", count).isEqualTo(magnitudes[count - 1]);
                for (int i = 0; i < length; i++) {
                    if (pruned[i] != 0f) {
                        assertThat(Math.abs(pruned[i])).isGreaterThanOrEqualTo(found.magnitude());
                    }
                }
            }
        }
    }

    @Test
    void oneThresholdAcrossSeveralArraysSharesTiesInOrder() {
        int[] first = bits(0.5f, -0.5f, 2f, 0.1f);
        int[] second = bits(-0.5f, 3f, 0.5f, -4f);
        MagnitudeThreshold.Threshold found = new MagnitudeThreshold().find(new int[][] {first, second}, 4);
        assertThat(found.magnitude()).isEqualTo(0.5f);
        assertThat(found.ties()).isEqualTo(3);
        MagnitudeThreshold.Applied[] firstApplied = new MagnitudeThreshold.Applied[1];
        MagnitudeThreshold.Applied[] secondApplied = new MagnitudeThreshold.Applied[1];
        assertThat(prune(first, found, found.ties(), firstApplied)).containsExactly(0f, 0f, 2f, 0f);
        assertThat(prune(second, found, found.ties() - firstApplied[0].tiesUsed(), secondApplied)).containsExactly(0f, 3f, 0.5f, -4f);
        assertThat(firstApplied[0].nonZeros() + secondApplied[0].nonZeros()).isEqualTo(4);
    }

    @Test
    void nanIsNeverPruned() {
        int[] values = bits(Float.NaN, 1f, -2f, 0.5f);
        MagnitudeThreshold.Threshold found = new MagnitudeThreshold().find(new int[][] {values}, 3);
        float[] pruned = prune(values, found, found.ties(), new MagnitudeThreshold.Applied[1]);
        assertThat(pruned[0]).isNaN();
        assertThat(pruned[1]).isZero();
        assertThat(pruned[2]).isZero();
        assertThat(pruned[3]).isZero();
    }

    @Test
    void emptyAndZeroCountsPruneNothing() {
        MagnitudeThreshold threshold = new MagnitudeThreshold();
        assertThat(threshold.find(new int[][] {new int[0]}, 0).zeros()).isZero();
        int[] values = bits(0f, 0.5f, -0f, 2f);
        MagnitudeThreshold.Threshold none = threshold.find(new int[][] {values}, 0);
        assertThat(none.zeros()).isEqualTo(2);
        assertThat(prune(values, none, none.ties(), new MagnitudeThreshold.Applied[1])).as("nothing changes, not even -0").containsExactly(0f, 0.5f, -0f, 2f);
    }
}
