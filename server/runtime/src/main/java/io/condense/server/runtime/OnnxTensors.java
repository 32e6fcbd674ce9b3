package io.condense.server.runtime;

import static java.util.Objects.requireNonNull;

import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.TensorInfo;
import io.condense.sdk.data.NdArray;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.tensor.DataType;
import io.condense.sdk.tensor.Float16;
import java.nio.Buffer;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.IntBuffer;
import java.nio.LongBuffer;
import java.nio.ShortBuffer;
import java.util.Arrays;
import java.util.function.BiConsumer;
import java.util.function.IntFunction;

/**
 * Converts between the SDK's {@link NdArray} and ONNX Runtime's {@link OnnxTensor} for float32, float16, uint8,
 * int8, int32 and int64. Tensors are made over direct native-order buffers, which ONNX Runtime uses without
 * another copy; values are copied in bulk or in typed loops, never boxed.
 *
 * <p>{@link #toOnnxTensor(OrtEnvironment, DataType, long[], NdArray, int, int, IntFunction)} also converts element types: to a
 * floating-point type by value; to an integer type by rounding to the nearest integer (half away from zero) and
 * clamping to the type's range.
 */
public final class OnnxTensors {

    private OnnxTensors() {
    }

    /** The SDK type of an ONNX Runtime element type, or null when the SDK's arrays cannot hold it. */
    public static DataType dataType(TensorInfo.OnnxTensorType type) {
        requireNonNull(type, "type is null");
        return switch (type) {
            case ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT -> DataType.FLOAT;
            case ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT16 -> DataType.FLOAT16;
            case ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT8 -> DataType.UINT8;
            case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT8 -> DataType.INT8;
            case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT32 -> DataType.INT32;
            case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT64 -> DataType.INT64;
            default -> null;
        };
    }

    /** Whether {@link NdArray} can hold the type (and so this class can convert it). */
    public static boolean isSupported(DataType type) {
        return switch (type) {
            case FLOAT, FLOAT16, UINT8, INT8, INT32, INT64 -> true;
            default -> false;
        };
    }

    /**
     * A tensor of {@code type} and {@code shape} holding {@code count} values of {@code source} from flat index
     * {@code offset}, converted to {@code type}, over a direct buffer of the given number of bytes from {@code buffers}
     * (a session's {@link InputBuffers}), which must outlive the tensor.
     */
    static OnnxTensor toOnnxTensor(OrtEnvironment environment, DataType type, long[] shape, NdArray source, int offset, int count,
            IntFunction<ByteBuffer> buffers) throws OrtException {
        requireNonNull(environment, "environment is null");
        requireNonNull(type, "type is null");
        requireNonNull(shape, "shape is null");
        requireNonNull(source, "source is null");
        if (NdArray.elementCount(shape) != count) {
            throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " holds " + NdArray.elementCount(shape)
                    + " values but " + count + " were given");
        }
        if (offset < 0 || count < 0 || offset + count > source.size()) {
            throw new IndexOutOfBoundsException("values [" + offset + ", " + (offset + count) + ") of " + source.size());
        }
        return switch (type) {
            case FLOAT -> {
                FloatBuffer buffer = allocate(buffers, count, 4).asFloatBuffer();
                if (source.dataType() == DataType.FLOAT) {
                    buffer.put((float[]) source.data(), offset, count);
                } else {
                    buffer.put(floats(source, offset, count));
                }
                yield OnnxTensor.createTensor(environment, buffer.rewind(), shape);
            }
            case FLOAT16 -> {
                ShortBuffer buffer = allocate(buffers, count, 2).asShortBuffer();
                if (source.dataType() == DataType.FLOAT16) {
                    buffer.put((short[]) source.data(), offset, count);
                } else {
                    float[] values = floats(source, offset, count);
                    for (int i = 0; i < count; i++) {
                        buffer.put(i, Float16.fromFloat(values[i]));
                    }
                }
                yield OnnxTensor.createTensor(environment, buffer.rewind(), shape, OnnxJavaType.FLOAT16);
            }
            case UINT8, INT8 -> {
                ByteBuffer buffer = allocate(buffers, count, 1);
                if (source.dataType() == type) {
                    buffer.put((byte[]) source.data(), offset, count);
                } else {
                    long[] values = longs(source, offset, count);
                    long min = type == DataType.UINT8 ? 0 : Byte.MIN_VALUE;
                    long max = type == DataType.UINT8 ? 255 : Byte.MAX_VALUE;
                    for (int i = 0; i < count; i++) {
                        buffer.put(i, (byte) Math.max(min, Math.min(max, values[i])));
                    }
                }
                yield OnnxTensor.createTensor(environment, buffer.rewind(), shape,
                        type == DataType.UINT8 ? OnnxJavaType.UINT8 : OnnxJavaType.INT8);
            }
            case INT32 -> {
                IntBuffer buffer = allocate(buffers, count, 4).asIntBuffer();
                if (source.dataType() == DataType.INT32) {
                    buffer.put((int[]) source.data(), offset, count);
                } else {
                    long[] values = longs(source, offset, count);
                    for (int i = 0; i < count; i++) {
                        buffer.put(i, (int) Math.max(Integer.MIN_VALUE, Math.min(Integer.MAX_VALUE, values[i])));
                    }
                }
                yield OnnxTensor.createTensor(environment, buffer.rewind(), shape);
            }
            case INT64 -> {
                LongBuffer buffer = allocate(buffers, count, 8).asLongBuffer();
                buffer.put(longs(source, offset, count));
                yield OnnxTensor.createTensor(environment, buffer.rewind(), shape);
            }
            default -> throw new CondenseException(ErrorCode.UNSUPPORTED_MODEL, "cannot feed a " + type
                    + " input: Condense feeds float32, float16, uint8, int8, int32 and int64 inputs");
        };
    }

    /** The tensor's values copied into an array of its own type and shape. */
    public static NdArray toNdArray(OnnxTensor tensor) {
        requireNonNull(tensor, "tensor is null");
        TensorInfo info = tensor.getInfo();
        long[] shape = info.getShape();
        int count = Math.toIntExact(NdArray.elementCount(shape));
        DataType type = dataType(info.onnxType);
        if (type == null) {
            throw new CondenseException(ErrorCode.UNSUPPORTED_MODEL, "cannot read an output of element type " + info.onnxType
                    + ": Condense reads float32, float16, uint8, int8, int32 and int64 outputs");
        }
        return switch (type) {
            // ONNX Runtime's getters copy the tensor into a new heap buffer of exactly its values: that buffer's array is
            // taken as it is rather than copied again (a calibration run's activations twice over were most of the heap's
            // churn, and the collector's work, on the entropy path)
            case FLOAT -> NdArray.ofFloats(shape, values(tensor.getFloatBuffer(), count, float[]::new, FloatBuffer::get));
            case FLOAT16 -> NdArray.ofFloat16(shape, values(tensor.getShortBuffer(), count, short[]::new, ShortBuffer::get));
            case UINT8 -> NdArray.ofUint8(shape, values(tensor.getByteBuffer(), count, byte[]::new, ByteBuffer::get));
            case INT8 -> NdArray.ofInt8(shape, values(tensor.getByteBuffer(), count, byte[]::new, ByteBuffer::get));
            case INT32 -> NdArray.ofInts(shape, values(tensor.getIntBuffer(), count, int[]::new, IntBuffer::get));
            case INT64 -> NdArray.ofLongs(shape, values(tensor.getLongBuffer(), count, long[]::new, LongBuffer::get));
            default -> throw new AssertionError(type);
        };
    }

    /**
     * The values of a getter's buffer as an array of {@code count}: the buffer's own array when it is exactly that (the
     * getters copy the tensor into a new heap buffer), else a copy made with {@code get}.
     */
    private static <B extends Buffer, A> A values(B buffer, int count, IntFunction<A> allocate, BiConsumer<B, A> get) {
        if (buffer.hasArray() && buffer.arrayOffset() == 0 && java.lang.reflect.Array.getLength(buffer.array()) == count) {
            @SuppressWarnings("unchecked")
            A values = (A) buffer.array();
            return values;
        }
        A values = allocate.apply(count);
        get.accept(buffer, values);
        return values;
    }

    private static ByteBuffer allocate(IntFunction<ByteBuffer> buffers, int count, int bytesPerValue) {
        return buffers.apply(Math.multiplyExact(count, bytesPerValue)).order(ByteOrder.nativeOrder());
    }

    /** {@code count} values from {@code offset} as floats. */
    static float[] floats(NdArray source, int offset, int count) {
        float[] out = new float[count];
        switch (source.dataType()) {
            case FLOAT -> System.arraycopy((float[]) source.data(), offset, out, 0, count);
            case FLOAT16 -> {
                short[] values = (short[]) source.data();
                for (int i = 0; i < count; i++) {
                    out[i] = Float16.toFloat(values[offset + i]);
                }
            }
            case UINT8 -> {
                byte[] values = (byte[]) source.data();
                for (int i = 0; i < count; i++) {
                    out[i] = values[offset + i] & 0xFF;
                }
            }
            case INT8 -> {
                byte[] values = (byte[]) source.data();
                for (int i = 0; i < count; i++) {
                    out[i] = values[offset + i];
                }
            }
            case INT32 -> {
                int[] values = (int[]) source.data();
                for (int i = 0; i < count; i++) {
                    out[i] = values[offset + i];
                }
            }
            case INT64 -> {
                long[] values = (long[]) source.data();
                for (int i = 0; i < count; i++) {
                    out[i] = values[offset + i];
                }
            }
            default -> throw new IllegalArgumentException("unsupported array type " + source.dataType());
        }
        return out;
    }

    /** {@code count} values from {@code offset} as longs, floats rounded half away from zero. */
    static long[] longs(NdArray source, int offset, int count) {
        long[] out = new long[count];
        switch (source.dataType()) {
            case FLOAT, FLOAT16 -> {
                float[] values = floats(source, offset, count);
                for (int i = 0; i < count; i++) {
                    float value = values[i];
                    out[i] = value >= 0 ? (long) (value + 0.5f) : -(long) (-value + 0.5f);
                }
            }
            case UINT8 -> {
                byte[] values = (byte[]) source.data();
                for (int i = 0; i < count; i++) {
                    out[i] = values[offset + i] & 0xFF;
                }
            }
            case INT8 -> {
                byte[] values = (byte[]) source.data();
                for (int i = 0; i < count; i++) {
                    out[i] = values[offset + i];
                }
            }
            case INT32 -> {
                int[] values = (int[]) source.data();
                for (int i = 0; i < count; i++) {
                    out[i] = values[offset + i];
                }
            }
            case INT64 -> System.arraycopy((long[]) source.data(), offset, out, 0, count);
            default -> throw new IllegalArgumentException("unsupported array type " + source.dataType());
        }
        return out;
    }
}
