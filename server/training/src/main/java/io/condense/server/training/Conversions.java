package io.condense.server.training;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.condense.sdk.data.NdArray;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.tensor.Tensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/** Copies between the SDK's tensors and arrays and DJL's NDArrays, in bulk. */
final class Conversions {
    private Conversions() {
    }

    /** An initializer or Constant as an NDArray: float types become float32, integers keep their type. */
    static NDArray fromTensor(NDManager manager, Tensor tensor) {
        Shape shape = new Shape(tensor.shape());
        return switch (tensor.dataType()) {
            case FLOAT, FLOAT16, BFLOAT16 -> manager.create(tensor.toFloatArray(), shape);
            case INT64 -> manager.create(tensor.toLongArray(), shape);
            case INT32 -> manager.create(tensor.toIntArray(), shape);
            case INT8 -> manager.create(bytes(tensor), shape, ai.djl.ndarray.types.DataType.INT8);
            case UINT8 -> manager.create(bytes(tensor), shape, ai.djl.ndarray.types.DataType.UINT8);
            // 4-bit levels (two per byte in the file) unpacked one per byte: int4 as int8, uint4 as uint8
            case INT4 -> manager.create(direct(unpacked(tensor)), shape, ai.djl.ndarray.types.DataType.INT8);
            case UINT4 -> manager.create(direct(unpacked(tensor)), shape, ai.djl.ndarray.types.DataType.UINT8);
            default -> throw new CondenseException(ErrorCode.UNSUPPORTED_MODEL, "tensor " + tensor.name() + " has element type "
                    + tensor.dataType() + ", which the training runtime does not read");
        };
    }

    private static byte[] unpacked(Tensor tensor) {
        int[] values = tensor.toIntArray();
        byte[] bytes = new byte[values.length];
        for (int i = 0; i < values.length; i++) {
            bytes[i] = (byte) values[i];
        }
        return bytes;
    }

    private static ByteBuffer bytes(Tensor tensor) {
        ByteBuffer raw = tensor.raw();
        ByteBuffer copy = ByteBuffer.allocateDirect(raw.remaining()).order(ByteOrder.nativeOrder());
        copy.put(raw.duplicate());
        copy.flip();
        return copy;
    }

    private static ByteBuffer direct(byte[] values) {
        ByteBuffer copy = ByteBuffer.allocateDirect(values.length).order(ByteOrder.nativeOrder());
        copy.put(values);
        copy.flip();
        return copy;
    }

    /** An SDK array as an NDArray of its own type (float16 becomes float32). */
    static NDArray fromNdArray(NDManager manager, NdArray array) {
        Shape shape = new Shape(array.shape());
        return switch (array.dataType()) {
            case FLOAT -> manager.create(array.floatData(), shape);
            case FLOAT16 -> manager.create(array.toFloatArray(), shape);
            case INT64 -> manager.create((long[]) array.data(), shape);
            case INT32 -> manager.create((int[]) array.data(), shape);
            case INT8 -> manager.create(direct((byte[]) array.data()), shape, ai.djl.ndarray.types.DataType.INT8);
            case UINT8 -> manager.create(direct((byte[]) array.data()), shape, ai.djl.ndarray.types.DataType.UINT8);
            default -> throw new CondenseException(ErrorCode.INVALID_DATA, "arrays of " + array.dataType() + " cannot be fed to the training runtime");
        };
    }

    /** An NDArray as an SDK array (float64 becomes float32, bool uint8). */
    static NdArray toNdArray(NDArray array) {
        long[] shape = array.getShape().getShape();
        return switch (array.getDataType()) {
            case FLOAT32 -> NdArray.ofFloats(shape, array.toFloatArray());
            case FLOAT64, FLOAT16 -> NdArray.ofFloats(shape, array.toType(ai.djl.ndarray.types.DataType.FLOAT32, false).toFloatArray());
            case INT64 -> NdArray.ofLongs(shape, array.toLongArray());
            case INT32 -> NdArray.ofInts(shape, array.toIntArray());
            case INT8 -> NdArray.ofInt8(shape, array.toByteArray());
            case UINT8, BOOLEAN -> NdArray.ofUint8(shape, array.toType(ai.djl.ndarray.types.DataType.UINT8, false).toByteArray());
            default -> throw new CondenseException(ErrorCode.INTERNAL_ERROR, "cannot return an array of " + array.getDataType());
        };
    }
}
