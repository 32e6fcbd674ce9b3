package io.condense.plugin.coding;

import io.condense.sdk.coding.CanonicalHuffman;
import io.condense.sdk.coding.PackedFormat;

/**
 * How one stream of symbols is coded: fixed width or canonical Huffman, whichever is smaller for its histogram
 * (the cost counts the stream's header and code-length table too). {@code allowHuffman=false} gives the fixed-width
 * code, the baseline the report's Huffman gain is measured against.
 */
final class StreamCode {
    /** u64 count, u8 coding, u8 width, u64 payload length. */
    static final int FIXED_HEADER_BYTES = 18;
    /** u64 count, u8 coding, u32 alphabet, u64 payload length (plus the code lengths). */
    static final int HUFFMAN_HEADER_BYTES = 21;

    private final long count;
    private final int width;
    private final int[] lengths;
    private final long bytes;

    private StreamCode(long count, int width, int[] lengths, long bytes) {
        this.count = count;
        this.width = width;
        this.lengths = lengths;
        this.bytes = bytes;
    }

    /** The smaller code for symbols with these counts (index = symbol); the alphabet is cut after the last used symbol. */
    static StreamCode choose(long[] counts, boolean allowHuffman) {
        int alphabet = 0;
        long count = 0;
        int used = 0;
        for (int symbol = 0; symbol < counts.length; symbol++) {
            if (counts[symbol] > 0) {
                alphabet = symbol + 1;
                count += counts[symbol];
                used++;
            }
        }
        int width = Math.max(1, 32 - Integer.numberOfLeadingZeros(Math.max(0, alphabet - 1)));
        StreamCode fixed = new StreamCode(count, width, null, FIXED_HEADER_BYTES + (count * width + 7) / 8);
        if (!allowHuffman || alphabet == 0 || alphabet > PackedFormat.MAX_HUFFMAN_ALPHABET || used > 1 << PackedFormat.MAX_CODE_LENGTH) {
            return fixed;
        }
        long[] histogram = java.util.Arrays.copyOf(counts, alphabet);
        int[] lengths = HuffmanLengths.of(histogram);
        long huffmanBytes = HUFFMAN_HEADER_BYTES + (alphabet + 1) / 2 + (HuffmanLengths.bits(histogram, lengths) + 7) / 8;
        return huffmanBytes < fixed.bytes ? new StreamCode(count, 0, lengths, huffmanBytes) : fixed;
    }

    /** A fixed-width code of {@code width} bits (symbols of a wide alphabet, such as raw float32 patterns). */
    static StreamCode fixed(long count, int width) {
        return new StreamCode(count, width, null, FIXED_HEADER_BYTES + (count * width + 7) / 8);
    }

    long bytes() {
        return bytes;
    }

    boolean huffman() {
        return lengths != null;
    }

    String describe() {
        return lengths != null ? "huffman" : "fixed" + width;
    }

    /** Writes the stream (header and payload) of {@code symbols[0, count)}. */
    void write(ByteSink out, int[] symbols, int count) {
        if (count != this.count) {
            throw new IllegalStateException("stream planned for " + this.count + " symbols, given " + count);
        }
        out.u64(count);
        if (lengths == null) {
            BitWriter bits = new BitWriter((long) count * width);
            for (int i = 0; i < count; i++) {
                bits.write(symbols[i] & 0xFFFFFFFFL, width);
            }
            byte[] payload = bits.finish();
            out.u8(PackedFormat.CODING_FIXED).u8(width).u64(payload.length).bytes(payload);
            return;
        }
        int[] codes = CanonicalHuffman.codes(lengths);
        out.u8(PackedFormat.CODING_HUFFMAN).u32(lengths.length);
        byte[] packed = new byte[(lengths.length + 1) / 2];
        for (int i = 0; i < lengths.length; i++) {
            packed[i / 2] |= (byte) (i % 2 == 0 ? lengths[i] << 4 : lengths[i]);
        }
        out.bytes(packed);
        BitWriter bits = new BitWriter(count * 4L);
        for (int i = 0; i < count; i++) {
            int symbol = symbols[i];
            bits.write(codes[symbol], lengths[symbol]);
        }
        byte[] payload = bits.finish();
        out.u64(payload.length).bytes(payload);
    }
}
