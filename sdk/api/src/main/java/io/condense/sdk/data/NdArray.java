package io.condense.sdk.data;

import static java.util.Objects.requireNonNull;

import io.condense.sdk.tensor.DataType;
import io.condense.sdk.tensor.Float16;
import java.lang.ref.SoftReference;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * A dense n-dimensional array in C order, holding its values in one primitive array: {@code float[]} for
 * FLOAT, {@code short[]} (IEEE half bits) for FLOAT16, {@code byte[]} for UINT8 and INT8, {@code int[]}
 * for INT32, {@code long[]} for INT64. Used for data sets and for model inputs and outputs.
 * The arrays are shared, not copied: treat them as read-only.
 *
 * <p>An array may instead be backed by a little-endian {@link ByteBuffer} (a memory-mapped .npy file, {@link #mapped}): then
 * {@link #slice} and {@link #getFloat} read only the bytes they need, so a data set larger than the heap can feed calibration
 * one sample at a time. {@link #data()} and {@link #toFloatArray()} of such an array read it whole into a primitive array, held
 * through a soft reference (dropped again when the heap runs short).
 */
public final class NdArray {
    private final DataType dataType;
    private final long[] shape;
    private final Object data;
    private final int size;
    /** The little-endian values when the array is backed by a buffer (data is then null), else null. */
    private final ByteBuffer buffer;
    private SoftReference<Object> materialized;

    private NdArray(DataType dataType, long[] shape, Object data, int length) {
        this.dataType = requireNonNull(dataType, "dataType is null");
        this.shape = requireNonNull(shape, "shape is null").clone();
        this.data = data;
        this.buffer = null;
        long count = elementCount(shape);
        if (count != length) {
            throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " holds " + count
                    + " elements but the data has " + length);
        }
        this.size = length;
    }

    private NdArray(DataType dataType, long[] shape, ByteBuffer buffer) {
        this.dataType = requireNonNull(dataType, "dataType is null");
        this.shape = requireNonNull(shape, "shape is null").clone();
        this.data = null;
        long count = elementCount(shape);
        long bytes = count * width(dataType);
        if (bytes != buffer.remaining()) {
            throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " of " + dataType + " needs " + bytes
                    + " bytes but the buffer holds " + buffer.remaining());
        }
        this.buffer = buffer.slice().order(ByteOrder.LITTLE_ENDIAN);
        this.size = Math.toIntExact(count);
    }

    /**
     * An array whose values stay in {@code littleEndianValues} (from its position to its limit; for example a memory-mapped
     * file): nothing is copied until values are read. FLOAT, FLOAT16, UINT8, INT8, INT32 or INT64.
     */
    public static NdArray mapped(DataType dataType, long[] shape, ByteBuffer littleEndianValues) {
        requireNonNull(littleEndianValues, "littleEndianValues is null");
        width(dataType);
        return new NdArray(dataType, shape, littleEndianValues);
    }

    /** Whether the values live in a buffer (read on demand) rather than in a primitive array. */
    public boolean isMapped() {
        return buffer != null;
    }

    private static int width(DataType dataType) {
        return switch (dataType) {
            case FLOAT, INT32 -> 4;
            case FLOAT16 -> 2;
            case UINT8, INT8 -> 1;
            case INT64 -> 8;
            default -> throw new IllegalArgumentException("unsupported array type " + dataType);
        };
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

    /** The backing primitive array (see the class comment for its type); read whole from the buffer when mapped. */
    public Object data() {
        if (buffer == null) {
            return data;
        }
        Object values = materialized == null ? null : materialized.get();
        if (values == null) {
            values = read(0, size);
            materialized = new SoftReference<>(values);
        }
        return values;
    }

    /** Elements [from, from + count) of the buffer as a new primitive array. */
    private Object read(int from, int count) {
        ByteBuffer view = buffer.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        int width = width(dataType);
        view.position(Math.multiplyExact(from, width));
        view.limit(view.position() + Math.multiplyExact(count, width));
        ByteBuffer part = view.slice().order(ByteOrder.LITTLE_ENDIAN);
        return switch (dataType) {
            case FLOAT -> {
                float[] values = new float[count];
                part.asFloatBuffer().get(values);
                yield values;
            }
            case FLOAT16 -> {
                short[] values = new short[count];
                part.asShortBuffer().get(values);
                yield values;
            }
            case UINT8, INT8 -> {
                byte[] values = new byte[count];
                part.get(values);
                yield values;
            }
            case INT32 -> {
                int[] values = new int[count];
                part.asIntBuffer().get(values);
                yield values;
            }
            case INT64 -> {
                long[] values = new long[count];
                part.asLongBuffer().get(values);
                yield values;
            }
            default -> throw new IllegalStateException("unsupported array type " + dataType);
        };
    }

    public float[] floatData() {
        if (dataType != DataType.FLOAT) {
            throw new IllegalStateException("not a float32 array: " + dataType);
        }
        return (float[]) data();
    }

    public float getFloat(int index) {
        if (buffer != null) {
            return switch (dataType) {
                case FLOAT -> buffer.getFloat(4 * index);
                case FLOAT16 -> Float16.toFloat(buffer.getShort(2 * index));
                case UINT8 -> buffer.get(index) & 0xFF;
                case INT8 -> buffer.get(index);
                case INT32 -> buffer.getInt(4 * index);
                case INT64 -> buffer.getLong(8 * index);
                default -> throw new IllegalStateException("unsupported array type " + dataType);
            };
        }
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
        if (buffer != null) {
            return dataType == DataType.FLOAT || dataType == DataType.FLOAT16 ? (long) getFloat(index) : switch (dataType) {
                case UINT8 -> buffer.get(index) & 0xFF;
                case INT8 -> buffer.get(index);
                case INT32 -> buffer.getInt(4 * index);
                case INT64 -> buffer.getLong(8 * index);
                default -> throw new IllegalStateException("unsupported array type " + dataType);
            };
        }
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
            return (float[]) data();
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
            return (long[]) data();
        }
        long[] out = new long[size];
        for (int i = 0; i < size; i++) {
            out[i] = getLong(i);
        }
        return out;
    }

    /** Same values, another shape with the same element count. */
    public NdArray reshape(long[] newShape) {
        return buffer != null ? new NdArray(dataType, newShape, buffer) : new NdArray(dataType, newShape, data, size);
    }

    /** Samples {@code [start, start + count)} along the first dimension, copied (from the buffer alone when mapped). */
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
        if (buffer != null) {
            return new NdArray(dataType, newShape, read(from, to - from), to - from);
        }
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
