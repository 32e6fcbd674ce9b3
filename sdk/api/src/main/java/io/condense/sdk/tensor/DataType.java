package io.condense.sdk.tensor;

import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;

/** The tensor element types Condense reads and writes, with their ONNX {@code TensorProto.DataType} codes. */
public enum DataType {
    FLOAT(1, 32),
    UINT8(2, 8),
    INT8(3, 8),
    INT32(6, 32),
    INT64(7, 64),
    FLOAT16(10, 16),
    BFLOAT16(16, 16),
    UINT4(21, 4),
    INT4(22, 4);

    private final int onnxCode;
    private final int bits;

    DataType(int onnxCode, int bits) {
        this.onnxCode = onnxCode;
        this.bits = bits;
    }

    public int onnxCode() {
        return onnxCode;
    }

    public int bits() {
        return bits;
    }

    /** Bytes needed for {@code elements} values; 4-bit types pack two per byte, rounding up. */
    public long byteSize(long elements) {
        return (elements * bits + 7) / 8;
    }

    public boolean isFloatingPoint() {
        return this == FLOAT || this == FLOAT16 || this == BFLOAT16;
    }

    public static boolean isSupported(int onnxCode) {
        for (DataType type : values()) {
            if (type.onnxCode == onnxCode) {
                return true;
            }
        }
        return false;
    }

    public static DataType fromOnnx(int onnxCode) {
        for (DataType type : values()) {
            if (type.onnxCode == onnxCode) {
                return type;
            }
        }
        throw new CondenseException(ErrorCode.UNSUPPORTED_MODEL,
                "ONNX tensor data type " + onnxCode + " is not supported; supported are float32, float16, bfloat16, "
                        + "int8, uint8, int4, uint4, int32 and int64");
    }
}
