package io.condense.plugin.quantization;

import io.condense.sdk.tensor.ChannelLayout;

/**
 * Symmetric linear 8-bit quantization of a float32 weight, per channel or per tensor:
 * {@code q = clamp(round_half_even(w / scale), -127, 127)} with {@code scale = max|w| / 127} per channel, and
 * {@code w ~ q * scale} back (what ONNX DequantizeLinear computes with a zero point of 0).
 *
 * <p>The weight is seen as [outer, channels, inner] in C order, the channels being the output-channel axis
 * (outer = 1 and inner = all the rest for a Conv weight; inner = 1 for a MatMul weight [in, out]). Loops run
 * over flat arrays; the caller passes every buffer, so nothing is allocated per element or per call.
 */
final class SymmetricQuantizer {
    static final int LEVELS = 127;
    private static final int MAGNITUDE_MASK = 0x7FFFFFFF;
    private static final int INFINITY_BITS = 0x7F800000;
    /**
     * Rounds half to even for |x| < 2^22 without leaving float arithmetic: adding 1.5 * 2^23 pushes the
     * fraction bits out, and subtracting it back leaves the rounded value (the same result as Math.rint).
     * Scaled weights lie in [-127, 127], far inside that range.
     */
    private static final float ROUNDING = 12582912f;

    private SymmetricQuantizer() {
    }

    /** The signal and error energies of one quantization, for its SQNR. */
    record Energies(double signal, double noise) {
        /** 10 log10(signal / noise) in dB; infinite when the quantization is exact. */
        double sqnrDb() {
            if (noise == 0) {
                return signal == 0 ? 0.0 : Double.POSITIVE_INFINITY;
            }
            return 10 * Math.log10(signal / noise);
        }
    }

    /**
     * Fills {@code scales} (one per channel) with max|w| / 127; a channel of zeros (or of weights so small
     * the scale would underflow to 0) gets scale 1, so nothing divides by zero and its weights quantize to 0.
     *
     * @return -1 when every weight is finite, else the index of the first NaN or infinite weight
     */
    static int scales(float[] weights, ChannelLayout layout, float[] scales) {
        int channels = layout.channels();
        int inner = layout.inner();
        int[] maxBits = new int[channels];
        int index = 0;
        if (inner == 1) {
            for (int o = 0; o < layout.outer(); o++) {
                for (int c = 0; c < channels; c++) {
                    int magnitude = Float.floatToRawIntBits(weights[index++]) & MAGNITUDE_MASK;
                    if (magnitude > maxBits[c]) {
                        maxBits[c] = magnitude;
                    }
                }
            }
        } else {
            for (int o = 0; o < layout.outer(); o++) {
                for (int c = 0; c < channels; c++) {
                    int max = maxBits[c];
                    for (int end = index + inner; index < end; index++) {
                        max = Math.max(max, Float.floatToRawIntBits(weights[index]) & MAGNITUDE_MASK);
                    }
                    maxBits[c] = max;
                }
            }
        }
        for (int c = 0; c < channels; c++) {
            if (maxBits[c] >= INFINITY_BITS) {
                return firstNonFinite(weights);
            }
            float scale = Float.intBitsToFloat(maxBits[c]) / LEVELS;
            scales[c] = scale > 0f ? scale : 1f;
        }
        return -1;
    }

    private static int firstNonFinite(float[] weights) {
        for (int i = 0; i < weights.length; i++) {
            if (!Float.isFinite(weights[i])) {
                return i;
            }
        }
        return -1;
    }

    /**
     * Quantizes {@code weights} into {@code quantized} with the given per-channel scales and measures the
     * error of {@code q * scale} against the weights.
     */
    static Energies quantize(float[] weights, ChannelLayout layout, float[] scales, byte[] quantized) {
        int channels = layout.channels();
        int inner = layout.inner();
        float[] inverses = new float[channels];
        for (int c = 0; c < channels; c++) {
            inverses[c] = 1f / scales[c];
        }
        float[] sums = new float[2];
        double signal = 0;
        double noise = 0;
        int index = 0;
        for (int o = 0; o < layout.outer(); o++) {
            if (inner == 1) {
                quantizeRow(weights, index, inverses, scales, quantized, sums);
                index += channels;
                signal += sums[0];
                noise += sums[1];
            } else {
                for (int c = 0; c < channels; c++) {
                    quantizeRun(weights, index, inner, inverses[c], scales[c], quantized, sums);
                    index += inner;
                    signal += sums[0];
                    noise += sums[1];
                }
            }
        }
        return new Energies(signal, noise);
    }

    /** One run of weights sharing a scale; four independent sums keep the additions from waiting on each other. */
    private static void quantizeRun(float[] weights, int from, int length, float inverse, float scale, byte[] quantized, float[] sums) {
        float signal0 = 0f;
        float signal1 = 0f;
        float noise0 = 0f;
        float noise1 = 0f;
        int end = from + length;
        int pairs = from + (length & ~1);
        int index = from;
        for (; index < pairs; index += 2) {
            float weight0 = weights[index];
            float weight1 = weights[index + 1];
            int level0 = clamp((int) ((weight0 * inverse + ROUNDING) - ROUNDING));
            int level1 = clamp((int) ((weight1 * inverse + ROUNDING) - ROUNDING));
            quantized[index] = (byte) level0;
            quantized[index + 1] = (byte) level1;
            float error0 = weight0 - level0 * scale;
            float error1 = weight1 - level1 * scale;
            signal0 += weight0 * weight0;
            signal1 += weight1 * weight1;
            noise0 += error0 * error0;
            noise1 += error1 * error1;
        }
        for (; index < end; index++) {
            float weight = weights[index];
            int level = clamp((int) ((weight * inverse + ROUNDING) - ROUNDING));
            quantized[index] = (byte) level;
            float error = weight - level * scale;
            signal0 += weight * weight;
            noise0 += error * error;
        }
        sums[0] = signal0 + signal1;
        sums[1] = noise0 + noise1;
    }

    /** One row of weights whose channel changes with every element (channels on the last axis). */
    private static void quantizeRow(float[] weights, int from, float[] inverses, float[] scales, byte[] quantized, float[] sums) {
        float signal0 = 0f;
        float signal1 = 0f;
        float noise0 = 0f;
        float noise1 = 0f;
        int channels = inverses.length;
        int pairs = channels & ~1;
        int c = 0;
        for (; c < pairs; c += 2) {
            float weight0 = weights[from + c];
            float weight1 = weights[from + c + 1];
            int level0 = clamp((int) ((weight0 * inverses[c] + ROUNDING) - ROUNDING));
            int level1 = clamp((int) ((weight1 * inverses[c + 1] + ROUNDING) - ROUNDING));
            quantized[from + c] = (byte) level0;
            quantized[from + c + 1] = (byte) level1;
            float error0 = weight0 - level0 * scales[c];
            float error1 = weight1 - level1 * scales[c + 1];
            signal0 += weight0 * weight0;
            signal1 += weight1 * weight1;
            noise0 += error0 * error0;
            noise1 += error1 * error1;
        }
        for (; c < channels; c++) {
            float weight = weights[from + c];
            int level = clamp((int) ((weight * inverses[c] + ROUNDING) - ROUNDING));
            quantized[from + c] = (byte) level;
            float error = weight - level * scales[c];
            signal0 += weight * weight;
            noise0 += error * error;
        }
        sums[0] = signal0 + signal1;
        sums[1] = noise0 + noise1;
    }

    private static int clamp(int level) {
        return level > LEVELS ? LEVELS : (level < -LEVELS ? -LEVELS : level);
    }
}
