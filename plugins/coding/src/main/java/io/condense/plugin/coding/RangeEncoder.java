package io.condense.plugin.coding;

import java.io.ByteArrayOutputStream;

/**
 * Writes the format's adaptive binary coding ({@code docs/FORMAT.md}, "Adaptive binary coding"): the encoder side of
 * the SDK's range decoder, LZMA's range coder (32-bit range, carry propagated through a cached byte and a run of
 * 0xFF bytes) with 16-bit probabilities. Written by hand: the format fixes the coder bit for bit so that the Java and
 * the numpy-only Python decoders read it, and no library exposes a range coder with caller-supplied probabilities.
 * The payload starts with a zero byte (the first cached byte) and ends after five flushed bytes, which is exactly
 * where the decoder's reads end.
 */
final class RangeEncoder {
    private static final long TOP = 1L << 24;
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private long low;
    private long range = 0xFFFFFFFFL;
    private int cache;
    private long cacheSize = 1;

    /** Codes {@code bit} (0 or 1) whose probability of being 0 is {@code probabilityOfZero} / 65536 (1 to 65535). */
    void bit(int probabilityOfZero, int bit) {
        long bound = (range >>> 16) * probabilityOfZero;
        if (bit == 0) {
            range = bound;
        } else {
            low += bound;
            range -= bound;
        }
        while (range < TOP) {
            range <<= 8;
            shiftLow();
        }
    }

    private void shiftLow() {
        if (low < 0xFF000000L || low > 0xFFFFFFFFL) {
            int carry = (int) (low >>> 32);
            int pending = cache;
            do {
                out.write((pending + carry) & 0xFF);
                pending = 0xFF;
            } while (--cacheSize != 0);
            cache = (int) ((low >>> 24) & 0xFF);
        }
        cacheSize++;
        low = (low & 0x00FFFFFFL) << 8;
    }

    /** Flushes the coder and returns the payload. */
    byte[] finish() {
        for (int i = 0; i < 5; i++) {
            shiftLow();
        }
        return out.toByteArray();
    }
}
