package io.condense.sdk.tensor;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class BFloat16Test {

    @Test
    void everyBfloat16ValueRoundTripsBitExactly() {
        for (int bits = 0; bits < 0x10000; bits++) {
            float value = BFloat16.toFloat((short) bits);
            short back = BFloat16.fromFloat(value);
            if ((back & 0xFFFF) != bits) {
                throw new AssertionError(String.format("bfloat16 0x%04X -> %s -> 0x%04X", bits, value, back & 0xFFFF));
            }
        }
    }

    @Test
    void roundsToNearestEven() {
        assertThat(BFloat16.fromFloat(1f)).isEqualTo((short) 0x3F80);
        assertThat(BFloat16.fromFloat(Float.intBitsToFloat(0x3F808000))).isEqualTo((short) 0x3F80); // tie, even stays
        assertThat(BFloat16.fromFloat(Float.intBitsToFloat(0x3F818000))).isEqualTo((short) 0x3F82); // tie, odd rounds up
        assertThat(BFloat16.fromFloat(Float.intBitsToFloat(0x3F808001))).isEqualTo((short) 0x3F81);
        assertThat(BFloat16.fromFloat(Float.MAX_VALUE)).isEqualTo((short) 0x7F80); // rounds up to infinity
        assertThat(BFloat16.fromFloat(Float.intBitsToFloat(0x00000001))).isEqualTo((short) 0); // smallest float subnormal
        assertThat(BFloat16.fromFloat(-0f)).isEqualTo((short) 0x8000);
        assertThat(BFloat16.toFloat(BFloat16.fromFloat(Float.intBitsToFloat(0x7F800001)))).isNaN();
        assertThat(BFloat16.toFloat(BFloat16.fromFloat(Float.NaN))).isNaN();
    }
}
