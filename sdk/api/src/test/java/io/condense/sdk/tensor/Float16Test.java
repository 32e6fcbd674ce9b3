package io.condense.sdk.tensor;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class Float16Test {

    @Test
    void everyHalfValueRoundTripsBitExactly() {
        for (int bits = 0; bits < 0x10000; bits++) {
            float value = Float16.toFloat((short) bits);
            short back = Float16.fromFloat(value);
            if ((back & 0xFFFF) != bits) {
                throw new AssertionError(String.format("half 0x%04X -> %s -> 0x%04X", bits, value, back & 0xFFFF));
            }
        }
    }

    @Test
    void decodesKnownValues() {
        assertThat(Float16.toFloat((short) 0x3C00)).isEqualTo(1f);
        assertThat(Float16.toFloat((short) 0xC000)).isEqualTo(-2f);
        assertThat(Float16.toFloat((short) 0x7BFF)).isEqualTo(65504f);
        assertThat(Float16.toFloat((short) 0x0001)).isEqualTo(0x1p-24f);
        assertThat(Float16.toFloat((short) 0x03FF)).isEqualTo(1023 * 0x1p-24f);
        assertThat(Float16.toFloat((short) 0x0400)).isEqualTo(0x1p-14f);
        assertThat(Float16.toFloat((short) 0x7C00)).isEqualTo(Float.POSITIVE_INFINITY);
        assertThat(Float16.toFloat((short) 0xFC00)).isEqualTo(Float.NEGATIVE_INFINITY);
        assertThat(Float16.toFloat((short) 0x7E00)).isNaN();
        assertThat(Float.floatToRawIntBits(Float16.toFloat((short) 0x8000))).isEqualTo(0x80000000);
    }

    @Test
    void roundsToNearestEvenAtTheEdges() {
        assertThat(Float16.fromFloat(65519.99f)).isEqualTo((short) 0x7BFF);
        assertThat(Float16.fromFloat(65520f)).isEqualTo((short) 0x7C00); // halfway to the next binade: rounds to infinity
        assertThat(Float16.fromFloat(1e10f)).isEqualTo((short) 0x7C00);
        assertThat(Float16.fromFloat(-1e10f)).isEqualTo((short) 0xFC00);
        assertThat(Float16.fromFloat(0x1p-25f)).isEqualTo((short) 0); // exactly half the smallest subnormal: ties to even (0)
        assertThat(Float16.fromFloat(Math.nextUp(0x1p-25f))).isEqualTo((short) 1);
        assertThat(Float16.fromFloat(1.5f * 0x1p-24f)).isEqualTo((short) 2); // tie between 1 and 2: even
        assertThat(Float16.fromFloat(2.5f * 0x1p-24f)).isEqualTo((short) 2);
        assertThat(Float16.fromFloat(1f + 0x1p-11f)).isEqualTo((short) 0x3C00); // tie: stays even
        assertThat(Float16.fromFloat(1f + 3 * 0x1p-11f)).isEqualTo((short) 0x3C02);
        assertThat(Float16.fromFloat(-0f)).isEqualTo((short) 0x8000);
        assertThat(Float16.toFloat(Float16.fromFloat(Float.NaN))).isNaN();
        assertThat(Float16.toFloat(Float16.fromFloat(Float.intBitsToFloat(0x7F800001)))).isNaN(); // payload only in dropped bits
    }

    @Test
    void roundsEveryFloatToTheNearestHalf() {
        SplittableRandom random = new SplittableRandom(42);
        for (int i = 0; i < 2_000_000; i++) {
            int bits = i < 1_000_000 ? random.nextInt() : (random.nextInt(0x47800000 - 0x33000000) + 0x33000000) | (i & 1) << 31;
            float value = Float.intBitsToFloat(bits);
            if (Float.isNaN(value)) {
                continue;
            }
            checkNearest(value);
        }
    }

    /** The chosen half must be at least as close as its neighbours, and even on a tie (infinity stands for 65536). */
    private static void checkNearest(float value) {
        short half = Float16.fromFloat(value);
        int magnitude = half & 0x7FFF;
        int sign = half & 0x8000;
        double chosen = unbounded(sign, magnitude);
        double error = Math.abs(chosen - value);
        for (int neighbour : new int[] {magnitude - 1, magnitude + 1}) {
            if (neighbour < 0 || neighbour > 0x7C00) {
                continue;
            }
            double other = unbounded(sign, neighbour);
            double otherError = Math.abs(other - value);
            if (otherError < error || (otherError == error && (magnitude & 1) != 0)) {
                throw new AssertionError(value + " rounded to half 0x" + Integer.toHexString(half & 0xFFFF) + " (" + chosen
                        + ") but 0x" + Integer.toHexString(sign | neighbour) + " (" + other + ") is nearer or even");
            }
        }
    }

    private static double unbounded(int sign, int magnitude) {
        double value = magnitude == 0x7C00 ? 65536.0 : Float16.toFloat((short) magnitude);
        return sign != 0 ? -value : value;
    }
}
