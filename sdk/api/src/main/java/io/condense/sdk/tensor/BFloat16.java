package io.condense.sdk.tensor;

/**
 * bfloat16 conversions (the upper 16 bits of an IEEE float32), rounding to nearest even, NaN kept NaN.
 * Hand-written because the JDK has no bfloat16 type.
 */
public final class BFloat16 {
    private BFloat16() {
    }

    public static float toFloat(short bits) {
        return Float.intBitsToFloat((bits & 0xFFFF) << 16);
    }

    public static short fromFloat(float value) {
        int bits = Float.floatToRawIntBits(value);
        if ((bits & 0x7F800000) == 0x7F800000 && (bits & 0x7FFFFF) != 0) {
            // NaN: keep the sign and the top payload bits (bfloat16 NaNs round-trip bit-exactly); when the payload
            // lives only in the dropped low bits, set the quiet bit so it stays a NaN rather than an infinity
            int upper = bits >>> 16;
            return (short) ((upper & 0x7F) != 0 ? upper : upper | 0x0040);
        }
        // round to nearest even on the 16 dropped bits; a carry into the exponent rounds up correctly,
        // up to infinity for values beyond the largest bfloat16
        int rounding = 0x7FFF + ((bits >>> 16) & 1);
        return (short) ((bits + rounding) >>> 16);
    }
}
