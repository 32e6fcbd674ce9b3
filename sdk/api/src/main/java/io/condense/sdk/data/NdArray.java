package io.condense.sdk.data;

import static java.util.Objects.requireNonNull;

import io.condense.sdk.tensor.DataType;
import io.condense.sdk.tensor.Float16;
import java.util.Arrays;

/**
 * A dense n-dimensional array in C order, holding its values in one primitive array: {@code float[]} for
 * FLOAT, {@code short[]} (IEEE half bits) for FLOAT16, {@code byte[]} for UINT8 and INT8, {@code int[]}
 * for INT32, {@code long[]} for INT64. Used for data sets and for model inputs and outputs.
 * The arrays are shared, not copied: treat them as read-only.
 */
public final class NdArray {
    private final DataType dataType;
    private final long[] shape;
    private final Object data;
    private final int size;

    private NdArray(DataType dataType, long[] shape, Object data, int length) {
        this.dataType = requireNonNull(dataType, "dataType is null");
        this.shape = requireNonNull(shape, "shape is null").clone();
        this.data = data;
        long count = elementCount(shape);
        if (count != length) {
            throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " holds " + count
                    + " elements but the data has " + length);
        }
        this.size = length;
    }

    public static long elementCount(long[] shape) {
        long count = 1;
        for (long dim : shape) {
            if (dim < 0) {
                throw new IllegalArgumentException("negative dimension in shape " + Arrays.toString(shape));
            }
            count = Math.multiplyExact(count, dim);
        }
        return count;
    }

    public static NdArray ofFloats(long[] shape, float[] values) {
        return new NdArray(DataType.FLOAT, shape, values, values.length);
    }

    public static NdArray ofFloat16(long[] shape, short[] bits) {
        return new NdArray(DataType.FLOAT16, shape, bits, bits.length);
    }

    public static NdArray ofUint8(long[] shape, byte[] values) {
        return new NdArray(DataType.UINT8, shape, values, values.length);
    }

    public static NdArray ofInt8(long[] shape, byte[] values) {
        return new NdArray(DataType.INT8, shape, values, values.length);
    }

    public static NdArray ofInts(long[] shape, int[] values) {
        return new NdArray(DataType.INT32, shape, values, values.length);
    }

    public static NdArray ofLongs(long[] shape, long[] values) {
        return new NdArray(DataType.INT64, shape, values, values.length);
    }

    public DataType dataType() {
        return dataType;
    }

    public long[] shape() {
        return shape.clone();
    }

    public int size() {
        return size;
    }

    /** The backing primitive array (see the class comment for its type). */
    public Object data() {
        return data;
    }

    public float[] floatData() {
        if (dataType != DataType.FLOAT) {
            throw new IllegalStateException("not a float32 array: " + dataType);
        }
        return (float[]) data;
    }

    public float getFloat(int index) {
        return switch (dataType) {
            case FLOAT -> ((float[]) data)[index];
            case FLOAT16 -> Float16.toFloat(((short[]) data)[index]);
            case UINT8 -> ((byte[]) data)[index] & 0xFF;
            case INT8 -> ((byte[]) data)[index];
            case INT32 -> ((int[]) data)[index];
            case INT64 -> ((long[]) data)[index];
            default -> throw new IllegalStateException("unsupported array type " + dataType);
        };
    }

    public long getLong(int index) {
        return switch (dataType) {
            case FLOAT -> (long) ((float[]) data)[index];
            case FLOAT16 -> (long) Float16.toFloat(((short[]) data)[index]);
            case UINT8 -> ((byte[]) data)[index] & 0xFF;
            case INT8 -> ((byte[]) data)[index];
            case INT32 -> ((int[]) data)[index];
            case INT64 -> ((long[]) data)[index];
            default -> throw new IllegalStateException("unsupported array type " + dataType);
        };
    }

    /** The values converted to float32 (a copy unless the array already is float32). */
    public float[] toFloatArray() {
        if (dataType == DataType.FLOAT) {
            return (float[]) data;
        }
        float[] out = new float[size];
        for (int i = 0; i < size; i++) {
            out[i] = getFloat(i);
        }
        return out;
    }

    /** The values converted to int64 (floats truncated). */
    public long[] toLongArray() {
        if (dataType == DataType.INT64) {
            return (long[]) data;
        }
        long[] out = new long[size];
        for (int i = 0; i < size; i++) {
            out[i] = getLong(i);
        }
        return out;
    }

    /** Same values, another shape with the same element count. */
    public NdArray reshape(long[] newShape) {
        return new NdArray(dataType, newShape, data, size);
    }

    /** Samples {@code [start, start + count)} along the first dimension, copied. */
    public NdArray slice(int start, int count) {
        if (shape.length == 0) {
            throw new IllegalStateException("cannot slice a scalar");
        }
        if (start < 0 || count < 0 || start + count > shape[0]) {
            throw new IndexOutOfBoundsException("slice [" + start + ", " + (start + count) + ") of " + shape[0] + " samples");
        }
        int stride = shape[0] == 0 ? 0 : (int) (size / shape[0]);
        long[] newShape = shape.clone();
        newShape[0] = count;
        int from = start * stride;
        int to = from + count * stride;
        Object part = switch (dataType) {
            case FLOAT -> Arrays.copyOfRange((float[]) data, from, to);
            case FLOAT16 -> Arrays.copyOfRange((short[]) data, from, to);
            case UINT8, INT8 -> Arrays.copyOfRange((byte[]) data, from, to);
            case INT32 -> Arrays.copyOfRange((int[]) data, from, to);
            case INT64 -> Arrays.copyOfRange((long[]) data, from, to);
            default -> throw new IllegalStateException("unsupported array type " + dataType);
        };
        return new NdArray(dataType, newShape, part, to - from);
    }

    @Override
    public String toString() {
        return "NdArray[" + dataType + " " + Arrays.toString(shape) + "]";
    }
}
