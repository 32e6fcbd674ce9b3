package io.condense.sdk.coding;

/** A structural problem found while reading a packed file; the decoder turns it into a CondenseException naming the section. */
final class PackedFormatException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    PackedFormatException(String message) {
        super(message, null, false, false);
    }
}
