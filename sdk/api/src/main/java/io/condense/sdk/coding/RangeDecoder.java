package io.condense.sdk.coding;

/**
 * Reads the format's adaptive binary coding ({@code docs/FORMAT.md}, "Adaptive binary coding"): a range coder over
 * {@code data[start, end)} with 32-bit range and code and byte-wise renormalisation (LZMA's, with 16-bit
 * probabilities). The payload starts with a zero byte; reading past its end is a {@link PackedFormatException}, and
 * {@link #finish()} checks the payload was consumed to its last byte, which a conforming encoder guarantees.
 */
final class RangeDecoder {
    private static final long TOP = 1L << 24;
    private final byte[] data;
    private final int end;
    private int next;
    private long range = 0xFFFFFFFFL;
    private long code;

    RangeDecoder(byte[] data, int start, int end, String what) {
        if (end - start < 5) {
            throw new PackedFormatException(what + ": an adaptive payload of " + (end - start) + " bytes (at least 5)");
        }
        if (data[start] != 0) {
            throw new PackedFormatException(what + ": an adaptive payload must start with a zero byte");
        }
        this.data = data;
        this.end = end;
        for (int i = 1; i <= 4; i++) {
            code = code << 8 | (data[start + i] & 0xFF);
        }
        this.next = start + 5;
    }

    /** Decodes one bit whose probability of being 0 is {@code probabilityOfZero} / 65536. */
    int bit(int probabilityOfZero) {
        long bound = (range >>> 16) * probabilityOfZero;
        int bit;
        if (code < bound) {
            range = bound;
            bit = 0;
        } else {
            code -= bound;
            range -= bound;
            bit = 1;
        }
        while (range < TOP) {
            if (next >= end) {
                throw new PackedFormatException("an adaptive payload ends before its symbols do");
            }
            range <<= 8;
            code = (code << 8 | (data[next++] & 0xFF)) & 0xFFFFFFFFL;
        }
        return bit;
    }

    /** Decodes a {@code width}-bit symbol as a binary tree of bits, most significant first, node {@code n} in context n. */
    int symbol(AdaptiveModel model, int width) {
        int node = 1;
        for (int i = 0; i < width; i++) {
            int bit = bit(model.probabilityOfZero(node));
            model.update(node, bit);
            node = node << 1 | bit;
        }
        return node - (1 << width);
    }

    void finish(String what) {
        if (next != end) {
            throw new PackedFormatException(what + ": an adaptive payload has " + (end - next) + " bytes more than its symbols need");
        }
    }
}
