package io.condense.sdk.coding;

/**
 * Canonical Huffman codes from code lengths, as DEFLATE assigns them (RFC 1951, 3.2.2): shorter codes first,
 * within one length in increasing symbol order. Used by the encoder to write and by the decoder to read, so
 * both agree on every code from the lengths alone.
 */
public final class CanonicalHuffman {
    private CanonicalHuffman() {
    }

    /**
     * The code of each symbol (right-aligned in an int, {@code lengths[s]} bits, most significant bit first);
     * 0 for unused symbols (length 0). Fails when a length is outside [0, 15] or the lengths over-subscribe
     * the code space (Kraft sum above 1).
     */
    public static int[] codes(int[] lengths) {
        int[] lengthCounts = lengthCounts(lengths);
        int[] next = new int[PackedFormat.MAX_CODE_LENGTH + 2];
        int code = 0;
        for (int length = 1; length <= PackedFormat.MAX_CODE_LENGTH; length++) {
            code = (code + lengthCounts[length - 1]) << 1;
            next[length] = code;
        }
        int[] codes = new int[lengths.length];
        for (int symbol = 0; symbol < lengths.length; symbol++) {
            int length = lengths[symbol];
            if (length != 0) {
                codes[symbol] = next[length]++;
            }
        }
        return codes;
    }

    /** How many symbols have each length (index 0: unused); checks the range of every length and Kraft's inequality. */
    static int[] lengthCounts(int[] lengths) {
        int[] counts = new int[PackedFormat.MAX_CODE_LENGTH + 1];
        for (int length : lengths) {
            if (length < 0 || length > PackedFormat.MAX_CODE_LENGTH) {
                throw new IllegalArgumentException("code length " + length + " outside [0, " + PackedFormat.MAX_CODE_LENGTH + "]");
            }
            counts[length]++;
        }
        counts[0] = 0;
        long left = 1;
        for (int length = 1; length <= PackedFormat.MAX_CODE_LENGTH; length++) {
            left = (left << 1) - counts[length];
            if (left < 0) {
                throw new IllegalArgumentException("the code lengths over-subscribe the code space at length " + length);
            }
        }
        return counts;
    }
}
