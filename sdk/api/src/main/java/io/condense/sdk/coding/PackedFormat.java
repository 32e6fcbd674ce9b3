package io.condense.sdk.coding;

/**
 * The constants of the packed model format ({@code .cpk}), version 1.2, specified in {@code docs/FORMAT.md}:
 * magic, section kinds, layouts and stream codings. Every multi-byte field is little-endian; bit streams are
 * written most significant bit first.
 */
public final class PackedFormat {
    /** The first 8 bytes of every packed file: {@code 0x89 'C' 'P' 'K' '\r' '\n' 0x1A '\n'}. */
    public static final byte[] MAGIC = {(byte) 0x89, 'C', 'P', 'K', '\r', '\n', 0x1A, '\n'};
    public static final int MAJOR_VERSION = 1;
    /**
     * 1.1 added the ZSTD and HUFFMAN_RUNS stream codings, 1.2 the MASKED layout and the ADAPTIVE coding; an older
     * decoder refuses them as unknown codings or layouts.
     */
    public static final int MINOR_VERSION = 2;
    /** Bytes before the section table: magic, major, minor, section count, file length. */
    public static final int HEADER_BYTES = 24;
    public static final int SECTION_ENTRY_BYTES = 32;
    public static final int MAX_SECTIONS = 1 << 20;

    public static final int SECTION_GRAPH = 1;
    public static final int SECTION_TENSOR = 2;
    /** GRAPH flag: the payload is a u64 inflated length followed by a zlib stream. */
    public static final int GRAPH_FLAG_ZLIB = 1;

    public static final int TARGET_INITIALIZER = 0;
    public static final int TARGET_SPARSE_INITIALIZER = 1;
    public static final int SPARSE_INDICES_LINEAR = 0;
    public static final int SPARSE_INDICES_COORDINATES = 1;

    public static final int LAYOUT_DENSE = 0;
    public static final int LAYOUT_SPARSE = 1;
    /** Positions as a bit mask coded adaptively with {@link MaskContext}, values of the set positions as a stream. */
    public static final int LAYOUT_MASKED = 2;
    public static final int MAX_GAP_WIDTH = 16;

    public static final int VALUES_DIRECT = 0;
    public static final int VALUES_TABLE = 1;
    public static final int MAX_TABLE_ENTRIES = 1 << 16;

    public static final int CODING_FIXED = 0;
    public static final int CODING_HUFFMAN = 1;
    /** Canonical Huffman whose code lengths are stored as runs (a byte per run of 1 to 16 equal lengths). */
    public static final int CODING_HUFFMAN_RUNS = 3;
    /** Byte-aligned little-endian symbols (1, 2 or 4 bytes each) compressed as one zstd frame (RFC 8878). */
    public static final int CODING_ZSTD = 2;
    /** Symbols of up to 16 bits as binary trees of adaptively coded bits ({@link AdaptiveModel}, a range coder). */
    public static final int CODING_ADAPTIVE = 4;
    public static final int MAX_ADAPTIVE_WIDTH = 16;
    /**
     * An adaptively coded bit costs at least -log2(1023/1024) bits (its model's counts are at least one half each and
     * at most 1,024 halves together), so a payload of P bytes holds fewer than 5,800 P coded bits; a stream or mask
     * declaring more than this many bits per payload byte is refused before anything is allocated.
     */
    public static final long MAX_ADAPTIVE_RATIO = 8_192;
    /**
     * A zstd frame cannot expand more than this: every block has a 3-byte header and at least 1 byte of content and
     * decompresses to at most 128 KiB. A stream declaring more decompressed bytes per payload byte is refused unread.
     */
    public static final long MAX_ZSTD_RATIO = 32_768;
    public static final int MAX_HUFFMAN_ALPHABET = 1 << 16;
    /** Huffman code lengths are stored in 4 bits, so no code is longer than 15 bits. */
    public static final int MAX_CODE_LENGTH = 15;

    public static final int MAX_RANK = 32;
    /** A tensor holds at most this many elements (the SDK's limit for one tensor). */
    public static final long MAX_ELEMENTS = Integer.MAX_VALUE - 8;
    /** zlib cannot expand by more than about 1032:1; a declared inflated length beyond that is refused. */
    public static final long MAX_INFLATE_RATIO = 1032;

    private PackedFormat() {
    }

    /** Bits per element of an ONNX data type the TENSOR section codes, or 0 when it does not code that type. */
    public static int elementBits(int onnxDataType) {
        return switch (onnxDataType) {
            case 1 -> 32;           // float
            case 2, 3 -> 8;         // uint8, int8
            case 10, 16 -> 16;      // float16, bfloat16
            case 21, 22 -> 4;       // uint4, int4
            default -> 0;
        };
    }

    /** Whether {@code bytes} starts with the packed format's magic. */
    public static boolean isPacked(byte[] bytes) {
        if (bytes == null || bytes.length < MAGIC.length) {
            return false;
        }
        for (int i = 0; i < MAGIC.length; i++) {
            if (bytes[i] != MAGIC[i]) {
                return false;
            }
        }
        return true;
    }
}
