package io.condense.sdk.coding;

/**
 * Reads a bit stream most significant bit first from {@code data[start, end)}: fixed-width fields and
 * Huffman codes. Every read past the end is a {@link PackedFormatException}; {@link #finish()} checks the stream
 * was consumed to its last byte and that the padding bits are zero.
 */
final class BitReader {
    private final byte[] data;
    private final int end;
    private int next;
    private long buffer;
    private int bits;

    BitReader(byte[] data, int start, int end) {
        this.data = data;
        this.next = start;
        this.end = end;
    }

    private void fill() {
        while (bits <= 56 && next < end) {
            buffer = (buffer << 8) | (data[next++] & 0xFF);
            bits += 8;
        }
    }

    /** Reads {@code count} bits (1 to 32) as an unsigned value in the low bits of the result. */
    long read(int count) {
        fill();
        if (bits < count) {
            throw new PackedFormatException("a bit stream ends in the middle of a " + count + "-bit field");
        }
        bits -= count;
        return (buffer >>> bits) & ((1L << count) - 1);
    }

    /** The next {@code count} bits (1 to 15) without consuming them; zeros past the end of the stream. */
    int peek(int count) {
        fill();
        if (bits >= count) {
            return (int) ((buffer >>> (bits - count)) & ((1L << count) - 1));
        }
        return (int) ((buffer << (count - bits)) & ((1L << count) - 1));
    }

    void skip(int count) {
        if (bits < count) {
            throw new PackedFormatException("a Huffman stream ends in the middle of a code");
        }
        bits -= count;
    }

    /** Checks the whole stream was read: no byte left and the last byte's unused bits are zero. */
    void finish() {
        fill();
        if (next < end || bits >= 8) {
            throw new PackedFormatException("a bit stream has " + ((end - next) + bits / 8) + " bytes more than its symbols need");
        }
        if (bits > 0 && (buffer & ((1L << bits) - 1)) != 0) {
            throw new PackedFormatException("a bit stream's padding bits are not zero");
        }
    }
}
