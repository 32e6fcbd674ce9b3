package io.condense.plugin.coding;

import io.condense.sdk.coding.PackedFormat;
import java.util.Arrays;

/**
 * Huffman code lengths for a histogram, at most 15 bits (the format stores lengths in 4 bits).
 *
 * <p>Written here rather than taken from a library: the format needs only code lengths (the codes are canonical,
 * {@link io.condense.sdk.coding.CanonicalHuffman}), over alphabets up to 2^16 with a hard length limit, and the
 * libraries at hand (java.util.zip's Deflater, zstd-jni) do not expose their Huffman coders. The classic two-queue
 * construction over symbols sorted by count is O(n log n); when the longest code exceeds 15 bits the counts are halved
 * (never below 1) and the code rebuilt, which keeps every used symbol and costs a fraction of a percent in size.
 */
final class HuffmanLengths {
    private HuffmanLengths() {
    }

    /** Code lengths for {@code counts}; at most 2^15 symbols may be used (15-bit codes cannot tell more apart). */
    static int[] of(long[] counts) {
        long used = java.util.Arrays.stream(counts).filter(count -> count > 0).count();
        if (used > 1 << PackedFormat.MAX_CODE_LENGTH) {
            throw new IllegalArgumentException(used + " symbols cannot all have codes of at most " + PackedFormat.MAX_CODE_LENGTH + " bits");
        }
        long[] working = counts.clone();
        while (true) {
            int[] lengths = unlimited(working);
            int longest = 0;
            for (int length : lengths) {
                longest = Math.max(longest, length);
            }
            if (longest <= PackedFormat.MAX_CODE_LENGTH) {
                return lengths;
            }
            for (int i = 0; i < working.length; i++) {
                if (working[i] > 0) {
                    working[i] = Math.max(1, working[i] >> 1);
                }
            }
        }
    }

    /** Total bits of the symbols coded with {@code lengths}. */
    static long bits(long[] counts, int[] lengths) {
        long bits = 0;
        for (int i = 0; i < counts.length; i++) {
            bits += counts[i] * lengths[i];
        }
        return bits;
    }

    private static int[] unlimited(long[] counts) {
        int[] lengths = new int[counts.length];
        int used = 0;
        for (long count : counts) {
            if (count > 0) {
                used++;
            }
        }
        if (used == 0) {
            return lengths;
        }
        long[] keyed = new long[used];
        int at = 0;
        for (int symbol = 0; symbol < counts.length; symbol++) {
            if (counts[symbol] > 0) {
                // count in the high bits, symbol in the low 17: one sort orders by count, then symbol
                keyed[at++] = counts[symbol] << 17 | symbol;
            }
        }
        Arrays.sort(keyed);
        if (used == 1) {
            lengths[(int) (keyed[0] & 0x1FFFF)] = 1;
            return lengths;
        }
        // nodes 0..used-1 are leaves (sorted), used..2*used-2 internal nodes in creation order
        long[] weight = new long[2 * used - 1];
        int[] parent = new int[2 * used - 1];
        for (int i = 0; i < used; i++) {
            weight[i] = keyed[i] >>> 17;
        }
        int leaf = 0;
        int internal = used;
        int created = used;
        for (int step = 0; step < used - 1; step++) {
            int[] pick = new int[2];
            for (int k = 0; k < 2; k++) {
                if (leaf < used && (internal >= created || weight[leaf] <= weight[internal])) {
                    pick[k] = leaf++;
                } else {
                    pick[k] = internal++;
                }
            }
            weight[created] = weight[pick[0]] + weight[pick[1]];
            parent[pick[0]] = created;
            parent[pick[1]] = created;
            created++;
        }
        int[] depth = new int[2 * used - 1];
        for (int node = 2 * used - 3; node >= 0; node--) {
            depth[node] = depth[parent[node]] + 1;
        }
        for (int i = 0; i < used; i++) {
            lengths[(int) (keyed[i] & 0x1FFFF)] = depth[i];
        }
        return lengths;
    }
}
