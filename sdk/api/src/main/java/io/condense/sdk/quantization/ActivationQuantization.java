package io.condense.sdk.quantization;

import static java.util.Objects.requireNonNull;

import io.condense.sdk.tensor.DataType;

/**
 * Per-tensor 8-bit activation quantization, as QuantizeLinear computes it:
 * {@code q = clamp(round_half_even(x / scale) + zeroPoint, low, high)}, {@code x ~ (q - zeroPoint) scale}.
 * Symmetric is int8 with zero point 0 and scale {@code magnitude / 127}; asymmetric is uint8 over the range widened
 * to hold 0 (so 0 is exact), scale {@code (max - min) / 255}.
 */
public record ActivationQuantization(DataType type, float scale, int zeroPoint) {
    /** Below this a range is treated as empty and gets scale 1 (every value is then 0 or near it). */
    private static final float SMALLEST_SCALE = 1e-30f;

    public ActivationQuantization {
        requireNonNull(type, "type is null");
        if (type != DataType.INT8 && type != DataType.UINT8) {
            throw new IllegalArgumentException("activations are int8 or uint8, not " + type);
        }
        if (!(scale > 0) || !Float.isFinite(scale)) {
            throw new IllegalArgumentException("scale must be positive and finite, got " + scale);
        }
        if (zeroPoint < low(type) || zeroPoint > high(type)) {
            throw new IllegalArgumentException("zero point " + zeroPoint + " outside " + type);
        }
    }

    public static ActivationQuantization of(ActivationRange range, boolean symmetric) {
        requireNonNull(range, "range is null");
        if (symmetric) {
            float scale = range.magnitude() / 127f;
            return new ActivationQuantization(DataType.INT8, scale >= SMALLEST_SCALE ? scale : 1f, 0);
        }
        float low = Math.min(range.min(), 0f);
        float high = Math.max(range.max(), 0f);
        float scale = (high - low) / 255f;
        if (!(scale >= SMALLEST_SCALE)) {
            return new ActivationQuantization(DataType.UINT8, 1f, 0);
        }
        int zeroPoint = (int) Math.rint(-low / scale);
        return new ActivationQuantization(DataType.UINT8, scale, Math.max(0, Math.min(255, zeroPoint)));
    }

    /** The level QuantizeLinear gives {@code value}. */
    public int quantize(float value) {
        double level = Math.rint(value / scale) + zeroPoint;
        return (int) Math.max(low(type), Math.min(high(type), level));
    }

    /** What DequantizeLinear gives a level: {@code (level - zeroPoint) * scale} in float32. */
    public float dequantize(int level) {
        return (level - zeroPoint) * scale;
    }

    /** {@code value} quantized then dequantized. */
    public float roundTrip(float value) {
        return (quantize(value) - zeroPoint) * scale;
    }

    /** The smallest value represented exactly. */
    public float representableMin() {
        return (low(type) - zeroPoint) * scale;
    }

    /** The largest value represented exactly. */
    public float representableMax() {
        return (high(type) - zeroPoint) * scale;
    }

    private static int low(DataType type) {
        return type == DataType.INT8 ? -128 : 0;
    }

    private static int high(DataType type) {
        return type == DataType.INT8 ? 127 : 255;
    }
}
