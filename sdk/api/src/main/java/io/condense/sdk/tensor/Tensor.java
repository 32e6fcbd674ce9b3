package io.condense.sdk.tensor;

import static java.util.Objects.requireNonNull;

import ai.onnx.proto.OnnxMl.SparseTensorProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import com.google.protobuf.ByteString;
import com.google.protobuf.UnsafeByteOperations;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.IntBuffer;
import java.nio.LongBuffer;
import java.nio.ShortBuffer;
import java.util.Arrays;

/**
 * A named tensor: element type, shape and its values as little-endian raw bytes (4-bit types packed two
 * per byte, low nibble first, as ONNX stores them). Built from a TensorProto whether it holds
 * {@code raw_data} or the typed fields; conversions to and from float arrays never box, and
 * {@code fromProto(p).toProto()} keeps every value bit-exact.
 *
 * <p>Immutable: the bytes are held as a protobuf {@link ByteString}, shared (not copied) with the protos
 * it is read from and written to.
 */
public final class Tensor {
    private final String name;
    private final DataType dataType;
    private final long[] shape;
    private final int elementCount;
    private final ByteString data;

    private Tensor(String name, DataType dataType, long[] shape, ByteString data) {
        this.name = requireNonNull(name, "name is null");
        this.dataType = requireNonNull(dataType, "dataType is null");
        this.shape = requireNonNull(shape, "shape is null").clone();
        long count = OnnxTypes.elementCount(name, this.shape);
        if (count > Integer.MAX_VALUE - 8) {
            throw new CondenseException(ErrorCode.RESOURCE_EXHAUSTED, "tensor '" + name + "' has " + count
                    + " elements; Condense handles at most 2^31 - 9 elements per tensor");
        }
        this.elementCount = (int) count;
        this.data = requireNonNull(data, "data is null");
        if (data.size() != dataType.byteSize(count)) {
            throw new CondenseException(ErrorCode.TENSOR_SIZE_MISMATCH, "tensor '" + name + "' (" + describe(dataType) + ", shape "
                    + Arrays.toString(shape) + ") should hold " + dataType.byteSize(count) + " bytes but holds " + data.size());
        }
    }

    /** Reads a proto; fails with TENSOR_SIZE_MISMATCH when the bytes disagree with the shape and type. */
    public static Tensor fromProto(TensorProto proto) {
        requireNonNull(proto, "proto is null");
        if (LargeTensor.isLarge(proto)) {
            throw LargeTensor.tooLarge(proto);
        }
        if (proto.getDataLocation() == TensorProto.DataLocation.EXTERNAL) {
            throw new CondenseException(ErrorCode.INVALID_EXTERNAL_DATA, "tensor '" + proto.getName()
                    + "' keeps its data in an external file that was not read in: load the model with OnnxModel.load(file)");
        }
        DataType type = DataType.fromOnnx(proto.getDataType());
        OnnxTypes.checkDataSize(proto);
        long[] shape = OnnxTypes.dims(proto);
        if (proto.hasRawData()) {
            return new Tensor(proto.getName(), type, shape, proto.getRawData());
        }
        int count = Math.toIntExact(OnnxTypes.elementCount(proto.getName(), shape));
        ByteBuffer out = ByteBuffer.allocate((int) type.byteSize(count)).order(ByteOrder.LITTLE_ENDIAN);
        switch (type) {
            case FLOAT -> {
                for (int i = 0; i < count; i++) {
                    out.putFloat(proto.getFloatData(i));
                }
            }
            case INT64 -> {
                for (int i = 0; i < count; i++) {
                    out.putLong(proto.getInt64Data(i));
                }
            }
            case INT32 -> {
                for (int i = 0; i < count; i++) {
                    out.putInt(proto.getInt32Data(i));
                }
            }
            case FLOAT16, BFLOAT16 -> {
                for (int i = 0; i < count; i++) {
                    out.putShort((short) proto.getInt32Data(i));
                }
            }
            case INT8, UINT8 -> {
                for (int i = 0; i < count; i++) {
                    out.put((byte) proto.getInt32Data(i));
                }
            }
            case INT4, UINT4 -> {
                // each int32_data entry holds one packed byte: two elements, the first in the low nibble
                int packed = proto.getInt32DataCount();
                for (int i = 0; i < packed; i++) {
                    out.put((byte) proto.getInt32Data(i));
                }
            }
        }
        return new Tensor(proto.getName(), type, shape, UnsafeByteOperations.unsafeWrap(out.array()));
    }

    /**
     * Densifies an ONNX sparse tensor: {@code values} holds the NNZ non-zero values, {@code indices} is int64
     * (or int32) of shape [NNZ] (linear indices into the dense tensor) or [NNZ, rank] (coordinates).
     */
    public static Tensor fromSparseProto(SparseTensorProto sparse) {
        requireNonNull(sparse, "sparse is null");
        Tensor values = fromProto(sparse.getValues());
        String name = sparse.getValues().getName();
        long[] shape = new long[sparse.getDimsCount()];
        for (int i = 0; i < shape.length; i++) {
            shape[i] = sparse.getDims(i);
        }
        long dense = OnnxTypes.elementCount(name, shape);
        int nonZeros = values.elementCount;
        if (values.shape.length != 1) {
            throw new CondenseException(ErrorCode.INVALID_MODEL, "sparse tensor '" + name + "' has values of shape "
                    + Arrays.toString(values.shape) + "; ONNX requires a 1-D values tensor [NNZ]");
        }
        long[] linear = new long[nonZeros];
        if (nonZeros > 0 || sparse.hasIndices()) {
            Tensor indices = fromProto(sparse.getIndices());
            if (indices.dataType != DataType.INT64 && indices.dataType != DataType.INT32) {
                throw new CondenseException(ErrorCode.INVALID_MODEL, "sparse tensor '" + name + "' has indices of type "
                        + describe(indices.dataType) + "; ONNX requires int64");
            }
            long[] raw = indices.toLongArray();
            long[] indexShape = indices.shape;
            if (indexShape.length == 1 && indexShape[0] == nonZeros) {
                System.arraycopy(raw, 0, linear, 0, nonZeros);
            } else if (indexShape.length == 2 && indexShape[0] == nonZeros && indexShape[1] == shape.length) {
                int rank = shape.length;
                for (int i = 0; i < nonZeros; i++) {
                    long index = 0;
                    for (int axis = 0; axis < rank; axis++) {
                        long coordinate = raw[i * rank + axis];
                        if (coordinate < 0 || coordinate >= shape[axis]) {
                            throw new CondenseException(ErrorCode.INVALID_MODEL, "sparse tensor '" + name + "' has coordinate "
                                    + coordinate + " on axis " + axis + ", outside its shape " + Arrays.toString(shape));
                        }
                        index = index * shape[axis] + coordinate;
                    }
                    linear[i] = index;
                }
            } else {
                throw new CondenseException(ErrorCode.TENSOR_SIZE_MISMATCH, "sparse tensor '" + name + "' has " + nonZeros
                        + " values but indices of shape " + Arrays.toString(indexShape) + "; ONNX requires [" + nonZeros + "] or ["
                        + nonZeros + ", " + shape.length + "]");
            }
        }
        for (long index : linear) {
            if (index < 0 || index >= dense) {
                throw new CondenseException(ErrorCode.INVALID_MODEL, "sparse tensor '" + name + "' has index " + index
                        + " outside its " + dense + " elements (shape " + Arrays.toString(shape) + ")");
            }
        }
        DataType type = values.dataType;
        if (dense > Integer.MAX_VALUE - 8) {
            throw new CondenseException(ErrorCode.RESOURCE_EXHAUSTED, "sparse tensor '" + name + "' would have " + dense
                    + " dense elements; Condense handles at most 2^31 - 9 elements per tensor");
        }
        byte[] out = new byte[(int) type.byteSize(dense)];
        ByteBuffer source = values.raw();
        if (type.bits() == 4) {
            for (int i = 0; i < nonZeros; i++) {
                int nibble = nibble(source, i);
                int target = (int) linear[i];
                int shift = (target & 1) * 4;
                out[target >>> 1] = (byte) ((out[target >>> 1] & ~(0xF << shift)) | (nibble << shift));
            }
        } else {
            int width = type.bits() / 8;
            for (int i = 0; i < nonZeros; i++) {
                int target = (int) linear[i] * width;
                for (int b = 0; b < width; b++) {
                    out[target + b] = source.get(i * width + b);
                }
            }
        }
        return new Tensor(name, type, shape, UnsafeByteOperations.unsafeWrap(out));
    }

    /** Converts floats to the given type: rounding to nearest even for floats, round and saturate for integers (NaN becomes 0). */
    public static Tensor fromFloats(String name, DataType type, long[] shape, float[] values) {
        requireNonNull(values, "values is null");
        int count = checkCount(name, type, shape, values.length);
        byte[] bytes = new byte[(int) type.byteSize(count)];
        ByteBuffer out = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        switch (type) {
            case FLOAT -> out.asFloatBuffer().put(values, 0, count);
            case FLOAT16 -> {
                ShortBuffer shorts = out.asShortBuffer();
                for (int i = 0; i < count; i++) {
                    shorts.put(i, Float16.fromFloat(values[i]));
                }
            }
            case BFLOAT16 -> {
                ShortBuffer shorts = out.asShortBuffer();
                for (int i = 0; i < count; i++) {
                    shorts.put(i, BFloat16.fromFloat(values[i]));
                }
            }
            case INT8 -> {
                for (int i = 0; i < count; i++) {
                    bytes[i] = (byte) saturate(values[i], -128, 127);
                }
            }
            case UINT8 -> {
                for (int i = 0; i < count; i++) {
                    bytes[i] = (byte) saturate(values[i], 0, 255);
                }
            }
            case INT4 -> {
                for (int i = 0; i < count; i++) {
                    bytes[i >>> 1] |= (byte) ((saturate(values[i], -8, 7) & 0xF) << ((i & 1) * 4));
                }
            }
            case UINT4 -> {
                for (int i = 0; i < count; i++) {
                    bytes[i >>> 1] |= (byte) (saturate(values[i], 0, 15) << ((i & 1) * 4));
                }
            }
            case INT32 -> {
                IntBuffer ints = out.asIntBuffer();
                for (int i = 0; i < count; i++) {
                    ints.put(i, (int) Math.rint(values[i])); // the cast saturates and maps NaN to 0
                }
            }
            case INT64 -> {
                LongBuffer longs = out.asLongBuffer();
                for (int i = 0; i < count; i++) {
                    longs.put(i, (long) Math.rint(values[i]));
                }
            }
        }
        return new Tensor(name, type, shape, UnsafeByteOperations.unsafeWrap(bytes));
    }

    /** Integer values (one per element, already in range of the type) for INT8, UINT8, INT4, UINT4, INT32 and INT64. */
    public static Tensor fromInts(String name, DataType type, long[] shape, int[] values) {
        requireNonNull(values, "values is null");
        int count = checkCount(name, type, shape, values.length);
        int minimum;
        int maximum;
        switch (type) {
            case INT8 -> {
                minimum = -128;
                maximum = 127;
            }
            case UINT8 -> {
                minimum = 0;
                maximum = 255;
            }
            case INT4 -> {
                minimum = -8;
                maximum = 7;
            }
            case UINT4 -> {
                minimum = 0;
                maximum = 15;
            }
            case INT32, INT64 -> {
                minimum = Integer.MIN_VALUE;
                maximum = Integer.MAX_VALUE;
            }
            default -> throw new IllegalArgumentException("fromInts takes an integer type, not " + describe(type) + "; use fromFloats");
        }
        byte[] bytes = new byte[(int) type.byteSize(count)];
        ByteBuffer out = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < count; i++) {
            int value = values[i];
            if (value < minimum || value > maximum) {
                throw new IllegalArgumentException("value " + value + " at index " + i + " of tensor '" + name + "' is outside the range ["
                        + minimum + ", " + maximum + "] of " + describe(type));
            }
            switch (type) {
                case INT8, UINT8 -> bytes[i] = (byte) value;
                case INT4, UINT4 -> bytes[i >>> 1] |= (byte) ((value & 0xF) << ((i & 1) * 4));
                case INT32 -> out.putInt(i * 4, value);
                default -> out.putLong(i * 8, value);
            }
        }
        return new Tensor(name, type, shape, UnsafeByteOperations.unsafeWrap(bytes));
    }

    public static Tensor fromLongs(String name, long[] shape, long[] values) {
        requireNonNull(values, "values is null");
        int count = checkCount(name, DataType.INT64, shape, values.length);
        byte[] bytes = new byte[count * 8];
        ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).asLongBuffer().put(values, 0, count);
        return new Tensor(name, DataType.INT64, shape, UnsafeByteOperations.unsafeWrap(bytes));
    }

    /** Wraps little-endian raw bytes (4-bit types packed, low nibble first); the array is copied. */
    public static Tensor fromRaw(String name, DataType type, long[] shape, byte[] raw) {
        requireNonNull(raw, "raw is null");
        return new Tensor(name, type, shape, ByteString.copyFrom(raw));
    }

    /**
     * The tensor of {@code length} bytes of {@code raw} from {@code offset}, without a copy: the tensor shares {@code raw},
     * so the caller must own the array and never change it afterwards (a file read into memory for this purpose alone).
     */
    public static Tensor wrapRaw(String name, DataType type, long[] shape, byte[] raw, int offset, int length) {
        requireNonNull(raw, "raw is null");
        return new Tensor(name, type, shape, UnsafeByteOperations.unsafeWrap(raw, offset, length));
    }

    public String name() {
        return name;
    }

    public DataType dataType() {
        return dataType;
    }

    public long[] shape() {
        return shape.clone();
    }

    public int rank() {
        return shape.length;
    }

    public long elementCount() {
        return elementCount;
    }

    /** Size of the raw bytes. */
    public long byteSize() {
        return data.size();
    }

    /** A read-only little-endian view of the raw bytes. */
    public ByteBuffer raw() {
        // sliced: a ByteString over part of an array (wrapRaw) gives a buffer positioned at its offset, and the absolute
        // reads below count from index 0
        return data.asReadOnlyByteBuffer().slice().order(ByteOrder.LITTLE_ENDIAN);
    }

    /**
     * The values as floats, read by absolute index: for FLOAT a read-only view of the raw bytes (nothing copied, so a
     * weight of any size can be streamed in chunks with {@link FloatBuffer#get(int, float[], int, int)}), for the other
     * types a converted copy ({@link #toFloatArray()}).
     */
    public FloatBuffer floats() {
        return dataType == DataType.FLOAT ? raw().asFloatBuffer() : FloatBuffer.wrap(toFloatArray());
    }

    /** The raw bytes as a protobuf ByteString (shared, immutable). */
    public ByteString rawByteString() {
        return data;
    }

    public float getFloat(long index) {
        if (index < 0 || index >= elementCount) {
            throw new IndexOutOfBoundsException("index " + index + " of tensor '" + name + "' with " + elementCount + " elements");
        }
        int i = (int) index;
        ByteBuffer buffer = raw();
        return switch (dataType) {
            case FLOAT -> buffer.getFloat(i * 4);
            case FLOAT16 -> Float16.toFloat(buffer.getShort(i * 2));
            case BFLOAT16 -> BFloat16.toFloat(buffer.getShort(i * 2));
            case INT8 -> buffer.get(i);
            case UINT8 -> buffer.get(i) & 0xFF;
            case INT4 -> signedNibble(nibble(buffer, i));
            case UINT4 -> nibble(buffer, i);
            case INT32 -> buffer.getInt(i * 4);
            case INT64 -> buffer.getLong(i * 8);
        };
    }

    public float[] toFloatArray() {
        float[] out = new float[elementCount];
        toFloatArray(out);
        return out;
    }

    /** Fills {@code out} (length = element count) without allocating. */
    public void toFloatArray(float[] out) {
        requireNonNull(out, "out is null");
        if (out.length != elementCount) {
            throw new IllegalArgumentException("output buffer holds " + out.length + " floats but tensor '" + name + "' has "
                    + elementCount + " elements");
        }
        ByteBuffer buffer = raw();
        int count = elementCount;
        switch (dataType) {
            case FLOAT -> buffer.asFloatBuffer().get(out, 0, count);
            case FLOAT16 -> {
                ShortBuffer shorts = buffer.asShortBuffer();
                for (int i = 0; i < count; i++) {
                    out[i] = Float16.toFloat(shorts.get(i));
                }
            }
            case BFLOAT16 -> {
                ShortBuffer shorts = buffer.asShortBuffer();
                for (int i = 0; i < count; i++) {
                    out[i] = BFloat16.toFloat(shorts.get(i));
                }
            }
            case INT8 -> {
                for (int i = 0; i < count; i++) {
                    out[i] = buffer.get(i);
                }
            }
            case UINT8 -> {
                for (int i = 0; i < count; i++) {
                    out[i] = buffer.get(i) & 0xFF;
                }
            }
            case INT4 -> {
                for (int i = 0; i < count; i++) {
                    out[i] = signedNibble(nibble(buffer, i));
                }
            }
            case UINT4 -> {
                for (int i = 0; i < count; i++) {
                    out[i] = nibble(buffer, i);
                }
            }
            case INT32 -> {
                IntBuffer ints = buffer.asIntBuffer();
                for (int i = 0; i < count; i++) {
                    out[i] = ints.get(i);
                }
            }
            case INT64 -> {
                LongBuffer longs = buffer.asLongBuffer();
                for (int i = 0; i < count; i++) {
                    out[i] = longs.get(i);
                }
            }
        }
    }

    /**
     * The flat index of the first value that is NaN or infinite, or -1 (always -1 for the integer types); reads the raw
     * bytes in place, allocating nothing per element.
     */
    public long indexOfNonFinite() {
        ByteBuffer buffer = raw();
        int count = elementCount;
        switch (dataType) {
            case FLOAT -> {
                FloatBuffer floats = buffer.asFloatBuffer();
                for (int i = 0; i < count; i++) {
                    if (!Float.isFinite(floats.get(i))) {
                        return i;
                    }
                }
            }
            case FLOAT16 -> {
                ShortBuffer shorts = buffer.asShortBuffer();
                for (int i = 0; i < count; i++) {
                    if (!Float.isFinite(Float16.toFloat(shorts.get(i)))) {
                        return i;
                    }
                }
            }
            case BFLOAT16 -> {
                ShortBuffer shorts = buffer.asShortBuffer();
                for (int i = 0; i < count; i++) {
                    if (!Float.isFinite(BFloat16.toFloat(shorts.get(i)))) {
                        return i;
                    }
                }
            }
            default -> {
                return -1;
            }
        }
        return -1;
    }

    /** Values as ints, for the integer types (4- and 8-bit, int32). */
    public int[] toIntArray() {
        int count = elementCount;
        int[] out = new int[count];
        ByteBuffer buffer = raw();
        switch (dataType) {
            case INT8 -> {
                for (int i = 0; i < count; i++) {
                    out[i] = buffer.get(i);
                }
            }
            case UINT8 -> {
                for (int i = 0; i < count; i++) {
                    out[i] = buffer.get(i) & 0xFF;
                }
            }
            case INT4 -> {
                for (int i = 0; i < count; i++) {
                    out[i] = signedNibble(nibble(buffer, i));
                }
            }
            case UINT4 -> {
                for (int i = 0; i < count; i++) {
                    out[i] = nibble(buffer, i);
                }
            }
            case INT32 -> buffer.asIntBuffer().get(out, 0, count);
            default -> throw new IllegalStateException("tensor '" + name + "' is " + describe(dataType)
                    + "; toIntArray is for int4, uint4, int8, uint8 and int32 (use toLongArray or toFloatArray)");
        }
        return out;
    }

    /** Values as longs, for every integer type. */
    public long[] toLongArray() {
        if (dataType == DataType.INT64) {
            long[] out = new long[elementCount];
            raw().asLongBuffer().get(out, 0, elementCount);
            return out;
        }
        if (dataType.isFloatingPoint()) {
            throw new IllegalStateException("tensor '" + name + "' is " + describe(dataType) + "; toLongArray is for integer types");
        }
        int[] ints = toIntArray();
        long[] out = new long[ints.length];
        for (int i = 0; i < ints.length; i++) {
            out[i] = ints[i];
        }
        return out;
    }

    /** The number of elements whose value is not zero (-0.0 counts as zero, NaN as non-zero). */
    public long countNonZero() {
        ByteBuffer buffer = raw();
        int count = elementCount;
        long nonZero = 0;
        switch (dataType) {
            case FLOAT -> {
                // the bit patterns a chunk at a time: a loop of integer arithmetic over an array, which the JIT vectorizes
                IntBuffer ints = buffer.asIntBuffer();
                int[] chunk = new int[Math.min(count, 4096)];
                for (int start = 0; start < count; start += chunk.length) {
                    int length = Math.min(chunk.length, count - start);
                    ints.get(start, chunk, 0, length);
                    int zeros = 0;
                    for (int i = 0; i < length; i++) {
                        // 1 for +0 and -0 (magnitude bits 0), else 0; NaN has magnitude bits, so it counts as non-zero
                        zeros += ((chunk[i] & 0x7FFFFFFF) - 1) >>> 31;
                    }
                    nonZero += length - zeros;
                }
            }
            case FLOAT16, BFLOAT16 -> {
                ShortBuffer shorts = buffer.asShortBuffer();
                for (int i = 0; i < count; i++) {
                    if ((shorts.get(i) & 0x7FFF) != 0) {
                        nonZero++;
                    }
                }
            }
            case INT4, UINT4 -> {
                for (int i = 0; i < count; i++) {
                    if (nibble(buffer, i) != 0) {
                        nonZero++;
                    }
                }
            }
            default -> {
                // integer types of whole bytes: an element is zero when all its bytes are
                int width = dataType.bits() / 8;
                for (int i = 0; i < count; i++) {
                    boolean zero = true;
                    for (int b = 0; b < width; b++) {
                        if (buffer.get(i * width + b) != 0) {
                            zero = false;
                            break;
                        }
                    }
                    if (!zero) {
                        nonZero++;
                    }
                }
            }
        }
        return nonZero;
    }

    /** The tensor as a proto with {@code raw_data}. */
    public TensorProto toProto() {
        TensorProto.Builder builder = TensorProto.newBuilder().setName(name).setDataType(dataType.onnxCode()).setRawData(data);
        for (long dim : shape) {
            builder.addDims(dim);
        }
        return builder.build();
    }

    /**
     * The tensor as an ONNX sparse tensor: the elements whose bits are not all zero (so -0.0 is kept and a
     * round trip through {@link #fromSparseProto} is bit-exact), with int64 linear indices of shape [NNZ].
     */
    public SparseTensorProto toSparseProto() {
        ByteBuffer buffer = raw();
        int count = elementCount;
        int nonZeros = 0;
        int width = Math.max(1, dataType.bits() / 8);
        boolean nibbles = dataType.bits() == 4;
        for (int i = 0; i < count; i++) {
            if (!zeroBits(buffer, i, width, nibbles)) {
                nonZeros++;
            }
        }
        long[] indices = new long[nonZeros];
        byte[] values = new byte[(int) dataType.byteSize(nonZeros)];
        int next = 0;
        for (int i = 0; i < count; i++) {
            if (zeroBits(buffer, i, width, nibbles)) {
                continue;
            }
            indices[next] = i;
            if (nibbles) {
                values[next >>> 1] |= (byte) (nibble(buffer, i) << ((next & 1) * 4));
            } else {
                for (int b = 0; b < width; b++) {
                    values[next * width + b] = buffer.get(i * width + b);
                }
            }
            next++;
        }
        Tensor valueTensor = new Tensor(name, dataType, new long[] {nonZeros}, UnsafeByteOperations.unsafeWrap(values));
        Tensor indexTensor = fromLongs(name + "_indices", new long[] {nonZeros}, indices);
        SparseTensorProto.Builder builder = SparseTensorProto.newBuilder().setValues(valueTensor.toProto()).setIndices(indexTensor.toProto());
        for (long dim : shape) {
            builder.addDims(dim);
        }
        return builder.build();
    }

    public Tensor withName(String newName) {
        return new Tensor(newName, dataType, shape, data);
    }

    /** Same values, another shape with the same element count. */
    public Tensor reshape(long[] newShape) {
        return new Tensor(name, dataType, newShape, data);
    }

    @Override
    public String toString() {
        return "Tensor[" + name + " " + describe(dataType) + " " + Arrays.toString(shape) + "]";
    }

    private static boolean zeroBits(ByteBuffer buffer, int index, int width, boolean nibbles) {
        if (nibbles) {
            return nibble(buffer, index) == 0;
        }
        for (int b = 0; b < width; b++) {
            if (buffer.get(index * width + b) != 0) {
                return false;
            }
        }
        return true;
    }

    private static int nibble(ByteBuffer buffer, int index) {
        return (buffer.get(index >>> 1) >>> ((index & 1) * 4)) & 0xF;
    }

    private static int signedNibble(int nibble) {
        return (nibble << 28) >> 28;
    }

    private static int saturate(float value, int minimum, int maximum) {
        if (Float.isNaN(value)) {
            return 0;
        }
        double rounded = Math.rint(value);
        return rounded < minimum ? minimum : rounded > maximum ? maximum : (int) rounded;
    }

    private static int checkCount(String name, DataType type, long[] shape, int length) {
        requireNonNull(name, "name is null");
        requireNonNull(type, "type is null");
        requireNonNull(shape, "shape is null");
        long count = OnnxTypes.elementCount(name, shape);
        if (count != length) {
            throw new IllegalArgumentException("tensor '" + name + "' of shape " + Arrays.toString(shape) + " needs " + count
                    + " values but " + length + " were given");
        }
        return length;
    }

    private static String describe(DataType type) {
        return OnnxTypes.name(type.onnxCode());
    }
}
