package io.condense.sdk.quantization;

/**
 * Power-of-two (INQ, log) quantization of one group of weights: every weight becomes 0 or ±2^e for e in a window of
 * {@code 2^(bits-1) - 1} exponents ending at {@code top = floor(log2(4 max|w| / 3))} (INQ's choice: the largest
 * magnitude rounds to 2^top), nearest in value. {@code quantize(scheme=pow2)} writes them as int8 levels ±2^(e - bottom)
 * times the scale 2^bottom; INQ ({@link IncrementalPowerOfTwo}) rounds with the same window in {@code quantize} and
 * {@code finetune}.
 */
public final class PowerOfTwo {
    private PowerOfTwo() {
    }

    /** How many exponents a window of {@code bits} holds: one bit is the sign, one level is zero. */
    public static int exponents(int bits) {
        return (1 << (bits - 1)) - 1;
    }

    /** The lowest exponent of the window of the group whose largest magnitude is {@code maxMagnitude}. */
    public static int bottomExponent(double maxMagnitude, int bits) {
        int top = (int) Math.floor(Math.log(4 * maxMagnitude / 3) / Math.log(2));
        return top - exponents(bits) + 1;
    }

    /** The nearest of 0 and ±2^e, e in [bottom, bottom + exponents(bits)), to {@code weight}. */
    public static double value(double weight, int bottom, int bits) {
        double magnitude = Math.abs(weight);
        double smallest = Math.scalb(1.0, bottom);
        double largest = Math.scalb(1.0, bottom + exponents(bits) - 1);
        double result;
        if (magnitude < smallest / 2) {
            result = 0;
        } else if (magnitude >= largest) {
            result = largest;
        } else if (magnitude <= smallest) {
            result = smallest;
        } else {
            // between 2^e and 2^(e+1) the midpoint is 1.5 * 2^e
            double low = Math.scalb(1.0, Math.getExponent(magnitude));
            result = magnitude >= 1.5 * low ? 2 * low : low;
        }
        return weight < 0 ? -result : result;
    }
}
