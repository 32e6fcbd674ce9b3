package io.condense.plugin.quantization;

import io.condense.sdk.tensor.ChannelLayout;
import java.nio.FloatBuffer;
import java.util.Arrays;

/**
 * Symmetric linear 8-bit quantization of a float32 weight, per channel or per tensor:
 * {@code q = clamp(round_half_even(w / scale), -127, 127)} with {@code scale = max|w| / 127} per channel, and
 * {@code w ~ q * scale} back (what ONNX DequantizeLinear computes with a zero point of 0).
 *
 * <p>The weight is seen as [outer, channels, inner] in C order, the channels being the output-channel axis
 * (outer = 1 and inner = all the rest for a Conv weight; inner = 1 for a MatMul weight [in, out]). It is read in
 * chunks of at most {@link #CHUNK} floats from a {@link FloatBuffer} (the tensor's raw bytes, not copied into a
 * float array of its size), and every loop that touches all the elements indexes each of its arrays by the loop
 * variable alone, with per-element arrays of scales: the form in which Java 17's C2 compiler vectorizes a loop
 * (it does not when two arrays are indexed at different offsets, nor float sums into one variable, nor
 * float-to-int conversions). Written by hand for that reason: no library quantizes a Java array to int8.
 */
final class SymmetricQuantizer {
    static final int LEVELS = 127;
    /** Floats read at a time: 16 KB, so a chunk and the arrays that go with it stay in the first-level cache. */
    static final int CHUNK = 4096;
    /**
     * Rounds half to even for |x| < 2^22 without leaving float arithmetic: adding 1.5 * 2^23 pushes the
     * fraction bits out, and subtracting it back leaves the rounded value (the same result as Math.rint).
     * Scaled weights lie in [-127, 127], far inside that range. The sum's bit pattern is 0x4B400000 plus the
     * level, so its low byte is the level as a two's-complement byte: no float-to-int conversion needed.
     */
    static final float ROUNDING = 12582912f;

    private SymmetricQuantizer() {
    }

    /** The signal and error energies of one quantization, for its SQNR. */
    record Energies(double signal, double noise) {
        /**
         * The energies of {@code weights} and of {@code weights - approximations}: chunk by chunk, summed element-wise
         * (vectorized) and only then added up in double; a running double sum waits on every addition.
         */
        static Energies of(float[] weights, float[] approximations) {
            float[] values = new float[CHUNK];
            float[] approximated = new float[CHUNK];
            float[] signal = new float[CHUNK];
            float[] noise = new float[CHUNK];
            for (int start = 0; start < weights.length; start += CHUNK) {
                int length = Math.min(CHUNK, weights.length - start);
                System.arraycopy(weights, start, values, 0, length);
                System.arraycopy(approximations, start, approximated, 0, length);
                for (int j = 0; j < length; j++) {
                    float weight = values[j];
                    float error = weight - approximated[j];
                    signal[j] += weight * weight;
                    noise[j] += error * error;
                }
            }
            return sum(signal, noise);
        }

        /** The totals of energies summed element-wise (each element a position in a chunk or a column of a tile). */
        static Energies sum(float[] signal, float[] noise) {
            double signalTotal = 0;
            double noiseTotal = 0;
            for (int j = 0; j < signal.length; j++) {
                signalTotal += signal[j];
                noiseTotal += noise[j];
            }
            return new Energies(signalTotal, noiseTotal);
        }

        /** 10 log10(signal / noise) in dB; infinite when the quantization is exact. */
        double sqnrDb() {
            if (noise == 0) {
                return signal == 0 ? 0.0 : Double.POSITIVE_INFINITY;
            }
            return 10 * Math.log10(signal / noise);
        }
    }

    /** {@link #scales(FloatBuffer, ChannelLayout, float[])} of an array. */
    static int scales(float[] weights, ChannelLayout layout, float[] scales) {
        return scales(FloatBuffer.wrap(weights), layout, scales);
    }

    /**
     * Fills {@code scales} (one per channel) with max|w| / 127; a channel of zeros (or of weights so small
     * the scale would underflow to 0) gets scale 1, so nothing divides by zero and its weights quantize to 0.
     *
     * @param weights the weight, read by absolute index from 0 (its position is ignored and left as it is)
     * @return -1 when every weight is finite, else the index of the first NaN or infinite weight
     */
    static int scales(FloatBuffer weights, ChannelLayout layout, float[] scales) {
        int channels = layout.channels();
        int inner = layout.inner();
        int outer = layout.outer();
        float[] chunk = new float[CHUNK];
        float[] maxima = new float[channels];
        if (inner == 1) {
            // a tile of columns at a time: the tile's maxima run along the chunk, element for element
            float[] tile = new float[CHUNK];
            for (int first = 0; first < channels; first += CHUNK) {
                int width = Math.min(CHUNK, channels - first);
                Arrays.fill(tile, 0f);
                for (int o = 0; o < outer; o++) {
                    weights.get(o * channels + first, chunk, 0, width);
                    for (int j = 0; j < width; j++) {
                        // Math.max keeps a NaN, so a NaN weight shows in its channel's maximum
                        tile[j] = Math.max(tile[j], Math.abs(chunk[j]));
                    }
                }
                System.arraycopy(tile, 0, maxima, first, width);
            }
        } else {
            // runs of `inner` weights sharing a channel: whole runs per chunk when they fit
            int runsPerChunk = Math.max(1, CHUNK / inner);
            int runs = outer * channels;
            for (int run = 0; run < runs; run += runsPerChunk) {
                int count = Math.min(runsPerChunk, runs - run);
                if (inner <= CHUNK) {
                    weights.get(run * inner, chunk, 0, count * inner);
                    for (int r = 0; r < count; r++) {
                        int channel = (run + r) % channels;
                        maxima[channel] = Math.max(maxima[channel], maxMagnitude(chunk, r * inner, inner));
                    }
                } else {
                    int channel = run % channels;
                    for (int start = 0; start < inner; start += CHUNK) {
                        int length = Math.min(CHUNK, inner - start);
                        weights.get(run * inner + start, chunk, 0, length);
                        maxima[channel] = Math.max(maxima[channel], maxMagnitude(chunk, 0, length));
                    }
                }
            }
        }
        for (int c = 0; c < channels; c++) {
            if (!(maxima[c] < Float.POSITIVE_INFINITY)) {
                return firstNonFinite(weights, layout.elements());
            }
            float scale = maxima[c] / LEVELS;
            scales[c] = scale > 0f ? scale : 1f;
        }
        return -1;
    }

    /** The largest |w| of {@code length} values from {@code from}; NaN when one is NaN. */
    private static float maxMagnitude(float[] values, int from, int length) {
        float max = 0f;
        for (int i = from, end = from + length; i < end; i++) {
            max = Math.max(max, Math.abs(values[i]));
        }
        return max;
    }

    /**
     * The index of the first NaN or infinite value, or -1: the largest magnitudes element-wise over all the chunks first
     * (vectorized; Math.max keeps a NaN), and only when one is not finite the scan for the first.
     */
    static int firstNonFinite(float[] values) {
        float[] chunk = new float[CHUNK];
        float[] largest = new float[CHUNK];
        for (int start = 0; start < values.length; start += CHUNK) {
            int length = Math.min(CHUNK, values.length - start);
            System.arraycopy(values, start, chunk, 0, length);
            for (int j = 0; j < length; j++) {
                largest[j] = Math.max(largest[j], Math.abs(chunk[j]));
            }
        }
        return maxMagnitude(largest, 0, CHUNK) < Float.POSITIVE_INFINITY ? -1 : firstNonFinite(FloatBuffer.wrap(values), values.length);
    }

    private static int firstNonFinite(FloatBuffer weights, int count) {
        for (int i = 0; i < count; i++) {
            if (!Float.isFinite(weights.get(i))) {
                return i;
            }
        }
        return -1;
    }

    /** {@link #quantize(FloatBuffer, ChannelLayout, float[], byte[])} of an array. */
    static Energies quantize(float[] weights, ChannelLayout layout, float[] scales, byte[] quantized) {
        return quantize(FloatBuffer.wrap(weights), layout, scales, quantized);
    }

    /**
     * Quantizes {@code weights} into {@code quantized} with the given per-channel scales and measures the
     * error of {@code q * scale} against the weights.
     */
    static Energies quantize(FloatBuffer weights, ChannelLayout layout, float[] scales, byte[] quantized) {
        int channels = layout.channels();
        int inner = layout.inner();
        int outer = layout.outer();
        Chunk chunk = new Chunk();
        if (inner == 1) {
            for (int first = 0; first < channels; first += CHUNK) {
                int width = Math.min(CHUNK, channels - first);
                for (int j = 0; j < width; j++) {
                    chunk.scales[j] = scales[first + j];
                    chunk.inverses[j] = 1f / scales[first + j];
                }
                for (int o = 0; o < outer; o++) {
                    weights.get(o * channels + first, chunk.values, 0, width);
                    chunk.quantize(width);
                    System.arraycopy(chunk.levels, 0, quantized, o * channels + first, width);
                }
            }
        } else {
            float[] inverses = new float[channels];
            for (int c = 0; c < channels; c++) {
                inverses[c] = 1f / scales[c];
            }
            int elements = layout.elements();
            for (int start = 0; start < elements; start += CHUNK) {
                int length = Math.min(CHUNK, elements - start);
                // the chunk's scales element by element: one fill per run of a channel within it
                for (int at = start, end = start + length; at < end; ) {
                    int channel = (at / inner) % channels;
                    int runEnd = Math.min(end, (at / inner + 1) * inner);
                    Arrays.fill(chunk.scales, at - start, runEnd - start, scales[channel]);
                    Arrays.fill(chunk.inverses, at - start, runEnd - start, inverses[channel]);
                    at = runEnd;
                }
                weights.get(start, chunk.values, 0, length);
                chunk.quantize(length);
                System.arraycopy(chunk.levels, 0, quantized, start, length);
            }
        }
        return chunk.energies();
    }

    /**
     * {@code out[j]} = the low byte of {@code shifted[j]}'s bit pattern: for {@code shifted = level + ROUNDING} with a level
     * in [-128, 255], the level as a byte (two's complement, or unsigned read back with {@code & 0xFF}).
     */
    static void lowBytes(float[] shifted, byte[] out, int length) {
        for (int j = 0; j < length; j++) {
            out[j] = (byte) Float.floatToRawIntBits(shifted[j]);
        }
    }

    /** A chunk of weights with its per-element scales, the work arrays of one quantization, and its energies so far. */
    private static final class Chunk {
        final float[] values = new float[CHUNK];
        final float[] scales = new float[CHUNK];
        final float[] inverses = new float[CHUNK];
        final float[] shifted = new float[CHUNK];
        final byte[] levels = new byte[CHUNK];
        /** Per position in the chunk, summed over every chunk: a sum per element vectorizes, a sum into one variable does not. */
        final float[] signal = new float[CHUNK];
        final float[] noise = new float[CHUNK];

        void quantize(int length) {
            float[] w = values;
            float[] inverse = inverses;
            float[] scale = scales;
            float[] sum = shifted;
            float[] signalSums = signal;
            float[] noiseSums = noise;
            for (int j = 0; j < length; j++) {
                float weight = w[j];
                float level = Math.min(Math.max(weight * inverse[j], -LEVELS), LEVELS);
                float rounded = level + ROUNDING;
                sum[j] = rounded;
                float error = weight - (rounded - ROUNDING) * scale[j];
                signalSums[j] += weight * weight;
                noiseSums[j] += error * error;
            }
            lowBytes(sum, levels, length);
        }

        Energies energies() {
            return Energies.sum(signal, noise);
        }
    }
}
