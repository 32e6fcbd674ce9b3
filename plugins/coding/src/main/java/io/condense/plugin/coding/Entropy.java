package io.condense.plugin.coding;

import java.util.Locale;

/** The {@code entropy} parameter: how the value and gap streams are coded beyond their fixed width. */
enum Entropy {
    /**
     * The smallest of canonical Huffman and the format's adaptive coding (context-modelled masks, range-coded value
     * streams), each against the fixed width: the default.
     */
    ARITHMETIC,
    /** Canonical Huffman where it is smaller than the fixed width (the paper's coding). */
    HUFFMAN,
    /** Byte-aligned symbols in one zstd frame (level 19) where that is smaller than the fixed width: the comparison. */
    ZSTD,
    /** Every stream bit-packed at its real width: the baseline the report's gain is measured against. */
    NONE;

    static Entropy of(String value) {
        return valueOf(value.toUpperCase(Locale.ROOT));
    }

    String id() {
        return name().toLowerCase(Locale.ROOT);
    }
}
