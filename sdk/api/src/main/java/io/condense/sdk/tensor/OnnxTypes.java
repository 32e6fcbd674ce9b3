package io.condense.sdk.tensor;

import ai.onnx.proto.OnnxMl.TensorProto;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import java.util.Arrays;

/**
 * Facts about every ONNX element type, including those Condense cannot view as a {@link Tensor}
 * (double, bool, float8...), so a model's initializers can all be checked at load time.
 */
public final class OnnxTypes {
    private OnnxTypes() {
    }

    /** Bits per element, or -1 for types without a fixed size (string, undefined, unknown codes). */
    public static int bits(int onnxCode) {
        return switch (onnxCode) {
            case 1, 6, 12 -> 32; // float, int32, uint32
            case 2, 3, 9, 17, 18, 19, 20 -> 8; // uint8, int8, bool, float8 variants
            case 4, 5, 10, 16 -> 16; // uint16, int16, float16, bfloat16
            case 7, 11, 13, 14 -> 64; // int64, double, uint64, complex64
            case 15 -> 128; // complex128
            case 21, 22, 23 -> 4; // uint4, int4, float4e2m1
            default -> -1;
        };
    }

    /** A readable name for an ONNX element type code. */
    public static String name(int onnxCode) {
        return switch (onnxCode) {
            case 1 -> "float32";
            case 2 -> "uint8";
            case 3 -> "int8";
            case 4 -> "uint16";
            case 5 -> "int16";
            case 6 -> "int32";
            case 7 -> "int64";
            case 8 -> "string";
            case 9 -> "bool";
            case 10 -> "float16";
            case 11 -> "double";
            case 12 -> "uint32";
            case 13 -> "uint64";
            case 14 -> "complex64";
            case 15 -> "complex128";
            case 16 -> "bfloat16";
            case 17 -> "float8e4m3fn";
            case 18 -> "float8e4m3fnuz";
            case 19 -> "float8e5m2";
            case 20 -> "float8e5m2fnuz";
            case 21 -> "uint4";
            case 22 -> "int4";
            case 23 -> "float4e2m1";
            default -> "type " + onnxCode;
        };
    }

    /** The element count of a shape; fails with INVALID_MODEL on a negative dimension or overflow. */
    public static long elementCount(String tensorName, long[] shape) {
        long count = 1;
        for (long dim : shape) {
            if (dim < 0) {
                throw new CondenseException(ErrorCode.INVALID_MODEL, "tensor '" + tensorName + "' has a negative dimension in its shape "
                        + Arrays.toString(shape));
            }
            try {
                count = Math.multiplyExact(count, dim);
            } catch (ArithmeticException e) {
                throw new CondenseException(ErrorCode.INVALID_MODEL, "tensor '" + tensorName + "' has an impossibly large shape "
                        + Arrays.toString(shape), e);
            }
        }
        return count;
    }

    /**
     * Checks that a tensor's declared type and shape agree with the data it carries, in {@code raw_data} or
     * in the typed field the ONNX spec assigns to its type; fails with TENSOR_SIZE_MISMATCH naming the tensor,
     * its type and shape, and the expected and actual byte counts. Tensors whose data is external are not
     * checked here (the loader reads them in first); string tensors are not checked.
     */
    public static void checkDataSize(TensorProto tensor) {
        if (tensor.getDataLocation() == TensorProto.DataLocation.EXTERNAL) {
            return;
        }
        int code = tensor.getDataType();
        int bits = bits(code);
        if (bits < 0) {
            return;
        }
        long[] shape = dims(tensor);
        long elements = elementCount(tensor.getName(), shape);
        long expectedBytes = (elements * bits + 7) / 8;
        long actualBytes;
        String where;
        if (tensor.hasRawData()) {
            actualBytes = tensor.getRawData().size();
            where = "raw_data";
        } else {
            // the typed field holding the values, as the ONNX spec assigns it; 4-bit types pack two per int32_data entry
            switch (code) {
                case 1 -> {
                    actualBytes = tensor.getFloatDataCount() * 4L;
                    where = "float_data";
                }
                case 14 -> {
                    actualBytes = tensor.getFloatDataCount() * 4L;
                    where = "float_data";
                }
                case 7 -> {
                    actualBytes = tensor.getInt64DataCount() * 8L;
                    where = "int64_data";
                }
                case 11, 15 -> {
                    actualBytes = tensor.getDoubleDataCount() * 8L;
                    where = "double_data";
                }
                case 12, 13 -> {
                    actualBytes = tensor.getUint64DataCount() * (long) (bits / 8);
                    where = "uint64_data";
                }
                case 21, 22, 23 -> {
                    actualBytes = tensor.getInt32DataCount();
                    where = "int32_data";
                }
                default -> {
                    actualBytes = tensor.getInt32DataCount() * (long) (bits / 8);
                    where = "int32_data";
                }
            }
        }
        if (actualBytes != expectedBytes) {
            throw new CondenseException(ErrorCode.TENSOR_SIZE_MISMATCH, "tensor '" + tensor.getName() + "' (" + name(code) + ", shape "
                    + Arrays.toString(shape) + ") should hold " + expectedBytes + " bytes but its " + where + " holds " + actualBytes
                    + ": the file is damaged or was written by a faulty exporter");
        }
    }

    static long[] dims(TensorProto tensor) {
        long[] shape = new long[tensor.getDimsCount()];
        for (int i = 0; i < shape.length; i++) {
            shape[i] = tensor.getDims(i);
        }
        return shape;
    }
}
