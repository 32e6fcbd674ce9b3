package io.condense.sdk.quantization;

/** A range of activation values to quantize over, {@code min <= max}, both finite. */
public record ActivationRange(float min, float max) {
    public ActivationRange {
        if (!Float.isFinite(min) || !Float.isFinite(max) || min > max) {
            throw new IllegalArgumentException("invalid activation range [" + min + ", " + max + "]");
        }
    }

    /** The larger magnitude of the two ends. */
    public float magnitude() {
        return Math.max(-min, max);
    }
}
