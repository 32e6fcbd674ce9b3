package io.condense.sdk.coding;

import static java.util.Objects.requireNonNull;

import com.google.protobuf.ByteString;
import io.condense.sdk.model.OnnxModel;

/**
 * The bytes of a packed model ({@code .cpk}, {@code docs/FORMAT.md}): what a storage-encoding step (the coding
 * plugin's {@code encode}) stores as its output instead of ONNX. Immutable.
 */
public final class PackedModel {
    private final ByteString bytes;

    private PackedModel(ByteString bytes) {
        this.bytes = bytes;
    }

    /** Wraps a copy of {@code bytes}; fails when they do not start with the format's magic. */
    public static PackedModel of(byte[] bytes) {
        requireNonNull(bytes, "bytes is null");
        if (!PackedFormat.isPacked(bytes)) {
            throw new IllegalArgumentException("not a packed model: the bytes do not start with the format's magic");
        }
        return new PackedModel(ByteString.copyFrom(bytes));
    }

    public int size() {
        return bytes.size();
    }

    public byte[] toByteArray() {
        return bytes.toByteArray();
    }

    /** Decodes with the default limits: the ONNX model, every tensor bit-identical to the one encoded. */
    public OnnxModel decode() {
        return decode(toByteArray());
    }

    /** Decodes a packed file's bytes into a model (see {@link PackedModelDecoder} for what it checks and throws). */
    public static OnnxModel decode(byte[] file) {
        return OnnxModel.fromBytes(new PackedModelDecoder().decode(file));
    }
}
