package io.condense.plugin.coding;

import com.github.luben.zstd.Zstd;
import io.condense.sdk.coding.CanonicalHuffman;
import io.condense.sdk.coding.PackedFormat;

/**
 * How one stream of symbols is coded: fixed width, canonical Huffman, adaptive (range-coded binary trees) or zstd,
 * whichever is smaller (the cost counts
 * the stream's header and code-length table too). Fixed and Huffman sizes come from the histogram, so a tensor's
 * layouts are compared without writing them; zstd's size is known only by compressing, so with {@link Entropy#ZSTD}
 * the layout is planned with the Huffman estimate and each stream is compressed when written, and kept only where the
 * frame is smaller than the fixed width. {@link Entropy#NONE} gives the fixed-width code, the baseline of the report's
 * entropy gain.
 */
final class StreamCode {
    /** u64 count, u8 coding, u8 width, u64 payload length. */
    static final int FIXED_HEADER_BYTES = 18;
    /** u64 count, u8 coding, u32 alphabet, u64 payload length (plus the code-length table, {@link #lengthTableBytes}). */
    static final int HUFFMAN_HEADER_BYTES = 21;
    /** u64 count, u8 coding, u8 symbol bytes, u64 payload length. */
    static final int ZSTD_HEADER_BYTES = 18;
    /** zstd's strongest level below the "ultra" ones, as {@code zstd -19}. */
    static final int ZSTD_LEVEL = 19;

    private final long count;
    private final int width;
    private final int[] lengths;
    private final long bytes;
    private final boolean zstd;
    /** ADAPTIVE: the range-coded payload, coded when planned (its size is known only by coding). */
    private final byte[] adaptive;

    private StreamCode(long count, int width, int[] lengths, long bytes, boolean zstd) {
        this(count, width, lengths, bytes, zstd, null);
    }

    private StreamCode(long count, int width, int[] lengths, long bytes, boolean zstd, byte[] adaptive) {
        this.count = count;
        this.width = width;
        this.lengths = lengths;
        this.bytes = bytes;
        this.zstd = zstd;
        this.adaptive = adaptive;
    }

    /** u64 count, u8 coding, u8 width, u64 payload length. */
    static final int ADAPTIVE_HEADER_BYTES = 18;

    /**
     * {@code symbols[0, count)} coded ADAPTIVE (binary trees of {@code width} adaptively coded bits), or null when the
     * alphabet is wider than the coding allows.
     */
    static StreamCode adaptive(int[] symbols, int count, int width) {
        if (width < 1 || width > PackedFormat.MAX_ADAPTIVE_WIDTH) {
            return null;
        }
        byte[] payload = AdaptiveCoding.symbols(symbols, count, width);
        return new StreamCode(count, width, null, ADAPTIVE_HEADER_BYTES + payload.length, false, payload);
    }

    /** The smaller of two codes of the same stream ({@code b} may be null). */
    static StreamCode smaller(StreamCode a, StreamCode b) {
        return b != null && b.bytes < a.bytes ? b : a;
    }

    /** Bits that hold every symbol below {@code alphabet} (at least 1). */
    static int widthOf(long alphabet) {
        return Math.max(1, 64 - Long.numberOfLeadingZeros(Math.max(0, alphabet - 1)));
    }

    /** The smaller code for symbols with these counts (index = symbol); the alphabet is cut after the last used symbol. */
    static StreamCode choose(long[] counts, Entropy entropy) {
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
        int width = widthOf(alphabet);
        StreamCode fixed = fixed(count, width, entropy);
        if (entropy == Entropy.NONE || alphabet == 0 || alphabet > PackedFormat.MAX_HUFFMAN_ALPHABET
                || used > 1 << PackedFormat.MAX_CODE_LENGTH) {
            return fixed;
        }
        long[] histogram = java.util.Arrays.copyOf(counts, alphabet);
        int[] lengths = HuffmanLengths.of(histogram);
        long huffmanBytes = HUFFMAN_HEADER_BYTES + lengthTableBytes(lengths) + (HuffmanLengths.bits(histogram, lengths) + 7) / 8;
        if (entropy == Entropy.ZSTD) {
            // the plan's estimate only: write() compresses and compares with the fixed width
            return new StreamCode(count, width, null, Math.min(huffmanBytes, fixed.bytes), true);
        }
        return huffmanBytes < fixed.bytes ? new StreamCode(count, 0, lengths, huffmanBytes, false) : fixed;
    }

    /** A fixed-width code of {@code width} bits (symbols of a wide alphabet, such as raw float32 patterns), or zstd when smaller. */
    static StreamCode fixed(long count, int width, Entropy entropy) {
        return new StreamCode(count, width, null, fixedBytes(count, width), entropy == Entropy.ZSTD);
    }

    private static long fixedBytes(long count, int width) {
        return FIXED_HEADER_BYTES + (count * width + 7) / 8;
    }

    /** The planned size (for zstd, an estimate until written). */
    long bytes() {
        return bytes;
    }

    /**
     * Writes the stream (header and payload) of {@code symbols[0, count)} and returns how it was coded:
     * {@code huffman}, {@code adaptive}, {@code zstd} or {@code fixedN}. An adaptive code writes the payload it
     * coded when planned, which must be of these same symbols.
     */
    String write(ByteSink out, int[] symbols, int count) {
        if (count != this.count) {
            throw new IllegalStateException("stream planned for " + this.count + " symbols, given " + count);
        }
        if (adaptive != null) {
            out.u64(count).u8(PackedFormat.CODING_ADAPTIVE).u8(width).u64(adaptive.length).bytes(adaptive);
            return "adaptive";
        }
        if (zstd) {
            int symbolBytes = width <= 8 ? 1 : width <= 16 ? 2 : 4;
            byte[] frame = Zstd.compress(littleEndian(symbols, count, symbolBytes), ZSTD_LEVEL);
            if (ZSTD_HEADER_BYTES + frame.length < fixedBytes(count, width)) {
                out.u64(count).u8(PackedFormat.CODING_ZSTD).u8(symbolBytes).u64(frame.length).bytes(frame);
                return "zstd";
            }
        }
        out.u64(count);
        if (lengths == null) {
            BitWriter bits = new BitWriter((long) count * width);
            for (int i = 0; i < count; i++) {
                bits.write(symbols[i] & 0xFFFFFFFFL, width);
            }
            byte[] payload = bits.finish();
            out.u8(PackedFormat.CODING_FIXED).u8(width).u64(payload.length).bytes(payload);
            return "fixed" + width;
        }
        int[] codes = CanonicalHuffman.codes(lengths);
        byte[] runs = lengthRuns(lengths);
        if (4 + runs.length < (lengths.length + 1) / 2) {
            out.u8(PackedFormat.CODING_HUFFMAN_RUNS).u32(lengths.length).u32(runs.length).bytes(runs);
        } else {
            byte[] packed = new byte[(lengths.length + 1) / 2];
            for (int i = 0; i < lengths.length; i++) {
                packed[i / 2] |= (byte) (i % 2 == 0 ? lengths[i] << 4 : lengths[i]);
            }
            out.u8(PackedFormat.CODING_HUFFMAN).u32(lengths.length).bytes(packed);
        }
        BitWriter bits = new BitWriter(count * 4L);
        for (int i = 0; i < count; i++) {
            int symbol = symbols[i];
            bits.write(codes[symbol], lengths[symbol]);
        }
        byte[] payload = bits.finish();
        out.u64(payload.length).bytes(payload);
        return "huffman";
    }

    /**
     * The code-length table's bytes: 4-bit lengths (HUFFMAN), or runs of equal lengths (HUFFMAN_RUNS: a u32 count and a
     * byte per run of up to 16) when that is smaller, as for a wide gap alphabet whose long tail shares one length.
     */
    static long lengthTableBytes(int[] lengths) {
        return Math.min((lengths.length + 1) / 2, 4L + lengthRuns(lengths).length);
    }

    /** Each byte: a code length in the high nibble, how many symbols in a row have it, minus one, in the low nibble. */
    private static byte[] lengthRuns(int[] lengths) {
        java.io.ByteArrayOutputStream runs = new java.io.ByteArrayOutputStream();
        for (int at = 0; at < lengths.length;) {
            int repeat = 1;
            while (repeat < 16 && at + repeat < lengths.length && lengths[at + repeat] == lengths[at]) {
                repeat++;
            }
            runs.write(lengths[at] << 4 | (repeat - 1));
            at += repeat;
        }
        return runs.toByteArray();
    }

    /** The symbols as {@code symbolBytes}-byte little-endian integers, the bytes a ZSTD stream compresses. */
    private static byte[] littleEndian(int[] symbols, int count, int symbolBytes) {
        byte[] bytes = new byte[Math.multiplyExact(count, symbolBytes)];
        for (int i = 0, at = 0; i < count; i++) {
            for (int b = 0; b < symbolBytes; b++) {
                bytes[at++] = (byte) (symbols[i] >>> (8 * b));
            }
        }
        return bytes;
    }
}
