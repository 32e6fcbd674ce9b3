package io.condense.sdk.tensor;

import ai.onnx.proto.OnnxMl.TensorProto;
import java.nio.ByteBuffer;

/**
 * A named tensor: element type, shape and its values as little-endian raw bytes (4-bit types packed two
 * per byte, low nibble first, as ONNX stores them). Built from a TensorProto whether it holds
 * {@code raw_data} or the typed fields; conversions to and from float arrays never box, and
 * {@code fromProto(p).toProto()} keeps every value bit-exact.
 */
public final class Tensor {
    // API skeleton: implemented in the SDK core work.
    private Tensor() {
        throw new UnsupportedOperationException();
    }

    /** Reads a proto; fails with TENSOR_SIZE_MISMATCH when the bytes disagree with the shape and type. */
    public static Tensor fromProto(TensorProto proto) {
        throw new UnsupportedOperationException();
    }

    /** Converts floats to the given type: rounding to nearest even for floats, round and saturate for integers. */
    public static Tensor fromFloats(String name, DataType type, long[] shape, float[] values) {
        throw new UnsupportedOperationException();
    }

    /** Integer values (one per element, already in range of the type) for INT8, UINT8, INT4, UINT4 and INT32. */
    public static Tensor fromInts(String name, DataType type, long[] shape, int[] values) {
        throw new UnsupportedOperationException();
    }

    public static Tensor fromLongs(String name, long[] shape, long[] values) {
        throw new UnsupportedOperationException();
    }

    public String name() {
        throw new UnsupportedOperationException();
    }

    public DataType dataType() {
        throw new UnsupportedOperationException();
    }

    public long[] shape() {
        throw new UnsupportedOperationException();
    }

    public long elementCount() {
        throw new UnsupportedOperationException();
    }

    /** A read-only little-endian view of the raw bytes. */
    public ByteBuffer raw() {
        throw new UnsupportedOperationException();
    }

    public float getFloat(long index) {
        throw new UnsupportedOperationException();
    }

    public float[] toFloatArray() {
        throw new UnsupportedOperationException();
    }

    /** Fills {@code out} (length = element count) without allocating. */
    public void toFloatArray(float[] out) {
        throw new UnsupportedOperationException();
    }

    /** Values as ints, for the integer types (4- and 8-bit, int32). */
    public int[] toIntArray() {
        throw new UnsupportedOperationException();
    }

    public long[] toLongArray() {
        throw new UnsupportedOperationException();
    }

    /** The tensor as a proto with {@code raw_data}. */
    public TensorProto toProto() {
        throw new UnsupportedOperationException();
    }

    public Tensor withName(String name) {
        throw new UnsupportedOperationException();
    }
}
