package io.condense.plugin.coding;

import java.util.Arrays;

/** Writes a bit stream most significant bit first, as the format's decoders read it; the last byte is padded with zeros. */
final class BitWriter {
    private byte[] bytes;
    private int size;
    private long buffer;
    private int bits;

    BitWriter(long expectedBits) {
        bytes = new byte[(int) Math.min(Integer.MAX_VALUE - 16, Math.max(16, (expectedBits + 7) / 8 + 8))];
    }

    /** Appends the low {@code count} bits (0 to 32) of {@code value}. */
    void write(long value, int count) {
        buffer = (buffer << count) | (value & ((1L << count) - 1));
        bits += count;
        while (bits >= 8) {
            bits -= 8;
            put((byte) (buffer >>> bits));
        }
    }

    private void put(byte b) {
        if (size == bytes.length) {
            bytes = Arrays.copyOf(bytes, (int) Math.min(Integer.MAX_VALUE - 16, bytes.length * 2L));
        }
        bytes[size++] = b;
    }

    byte[] finish() {
        if (bits > 0) {
            put((byte) (buffer << (8 - bits)));
            bits = 0;
        }
        return Arrays.copyOf(bytes, size);
    }
}
