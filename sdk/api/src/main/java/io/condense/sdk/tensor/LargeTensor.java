package io.condense.sdk.tensor;

import static java.util.Objects.requireNonNull;

import ai.onnx.proto.OnnxMl.StringStringEntryProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import java.io.IOException;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * One tensor whose data is larger than a Java array or a protobuf message can hold (over 2 GiB), read in place from its
 * external data file: {@code OnnxModel.load} leaves such a tensor external in the model's proto, with the data file's
 * resolved path under the key {@value #SOURCE_KEY} beside its {@code offset} and {@code length}, and {@code save} copies
 * its bytes into the new data file. The bytes are memory-mapped in segments of 1 GiB on first use (page cache, not
 * heap); values are read by a {@code long} index. Only code that reads a weight piece by piece can use it (blocked
 * quantization of a MatMul weight); {@link Tensor#fromProto} refuses it saying so.
 */
public final class LargeTensor {
    /** The external data entry holding the data file's absolute path, written by the loader, never saved. */
    public static final String SOURCE_KEY = "condense.source";
    private static final int SEGMENT_SHIFT = 30;
    private static final long SEGMENT_BYTES = 1L << SEGMENT_SHIFT;

    private final String name;
    private final DataType type;
    private final long[] shape;
    private final long elements;
    private final Path file;
    private final long offset;
    private final long length;
    private final MappedByteBuffer[] segments;

    private LargeTensor(String name, DataType type, long[] shape, Path file, long offset, long length) {
        this.name = name;
        this.type = type;
        this.shape = shape;
        this.elements = OnnxTypes.elementCount(name, shape);
        this.file = file;
        this.offset = offset;
        this.length = length;
        if (type.byteSize(elements) != length) {
            throw new CondenseException(ErrorCode.TENSOR_SIZE_MISMATCH, "tensor '" + name + "' of shape " + java.util.Arrays.toString(shape)
                    + " needs " + type.byteSize(elements) + " bytes of " + type + " but its external data holds " + length);
        }
        this.segments = new MappedByteBuffer[Math.toIntExact((length + SEGMENT_BYTES - 1) / SEGMENT_BYTES)];
    }

    /** Whether the loader left this tensor in its file because it is too large to read in. */
    public static boolean isLarge(TensorProto tensor) {
        return tensor.getDataLocation() == TensorProto.DataLocation.EXTERNAL && entry(tensor, SOURCE_KEY) != null;
    }

    /** The tensor's data in place; INVALID_EXTERNAL_DATA when the proto is not one the loader left external. */
    public static LargeTensor of(TensorProto tensor) {
        requireNonNull(tensor, "tensor is null");
        if (!isLarge(tensor)) {
            throw new CondenseException(ErrorCode.INVALID_EXTERNAL_DATA, "tensor '" + tensor.getName() + "' is not a large tensor left in its file");
        }
        long[] shape = OnnxTypes.dims(tensor);
        return new LargeTensor(tensor.getName(), DataType.fromOnnx(tensor.getDataType()), shape, Path.of(entry(tensor, SOURCE_KEY)),
                Long.parseLong(entry(tensor, "offset")), Long.parseLong(entry(tensor, "length")));
    }

    /** The external data bytes a tensor proto declares (0 for one held inline). */
    public static long declaredBytes(TensorProto tensor) {
        String length = entry(tensor, "length");
        return isLarge(tensor) && length != null ? Long.parseLong(length) : 0;
    }

    /** The refusal of code that would read the tensor whole. */
    public static CondenseException tooLarge(TensorProto tensor) {
        return new CondenseException(ErrorCode.RESOURCE_EXHAUSTED, "tensor '" + tensor.getName() + "' holds " + declaredBytes(tensor)
                + " bytes, more than one Java array or protobuf message can (2 GiB), so it cannot be read whole: only quantize with "
                + "granularity=block and method=rtn reads such a MatMul weight (piece by piece); leave it out of other steps "
                + "(exclude=" + tensor.getName() + ")");
    }

    public String name() {
        return name;
    }

    public DataType dataType() {
        return type;
    }

    public long[] shape() {
        return shape.clone();
    }

    public long elements() {
        return elements;
    }

    public long byteSize() {
        return length;
    }

    /** The float at a flat index (row-major); the tensor must be FLOAT. */
    public float getFloat(long index) {
        if (type != DataType.FLOAT) {
            throw new IllegalStateException("tensor '" + name + "' is " + type + ", not FLOAT");
        }
        long position = index * 4;
        // segments are 2^30 bytes, a multiple of 4: a float never straddles two
        return segment((int) (position >>> SEGMENT_SHIFT)).getFloat((int) (position & (SEGMENT_BYTES - 1)));
    }

    /**
     * Copies {@code length} floats from flat index {@code index} into {@code out} from {@code offset}, in bulk (a run that
     * crosses from one mapped segment into the next is read in two pieces); the tensor must be FLOAT.
     */
    public void getFloats(long index, float[] out, int offset, int length) {
        if (type != DataType.FLOAT) {
            throw new IllegalStateException("tensor '" + name + "' is " + type + ", not FLOAT");
        }
        if (index < 0 || length < 0 || index + length > elements) {
            throw new IndexOutOfBoundsException("floats " + index + ".." + (index + length) + " of tensor '" + name + "' with "
                    + elements + " elements");
        }
        int done = 0;
        while (done < length) {
            long position = (index + done) * 4;
            int within = (int) (position & (SEGMENT_BYTES - 1));
            // segments are 2^30 bytes, a multiple of 4: a float never straddles two
            int count = (int) Math.min(length - done, (SEGMENT_BYTES - within) / 4);
            segment((int) (position >>> SEGMENT_SHIFT)).asFloatBuffer().get(within / 4, out, offset + done, count);
            done += count;
        }
    }

    /** Elements that are not zero (for floats: not +0 or -0; for other types: any bit set). */
    public long countNonZero() {
        long count = 0;
        if (type == DataType.FLOAT) {
            for (long i = 0; i < elements; i++) {
                if (getFloat(i) != 0f) {
                    count++;
                }
            }
            return count;
        }
        int size = Math.toIntExact(type.byteSize(1));
        for (long element = 0; element < elements; element++) {
            long position = element * size;
            MappedByteBuffer segment = segment((int) (position >>> SEGMENT_SHIFT));
            int within = (int) (position & (SEGMENT_BYTES - 1));
            boolean nonZero = false;
            for (int b = 0; b < size && !nonZero; b++) {
                nonZero = segment.get(within + b) != 0;
            }
            if (nonZero) {
                count++;
            }
        }
        return count;
    }

    /** Copies the tensor's bytes to {@code target} at {@code position} (file to file, not through the heap). */
    public void copyTo(FileChannel target, long position) throws IOException {
        try (FileChannel source = FileChannel.open(file, StandardOpenOption.READ)) {
            long copied = 0;
            while (copied < length) {
                long moved = source.transferTo(offset + copied, length - copied, target.position(position + copied));
                if (moved <= 0) {
                    throw new IOException("the data file " + file + " ends before byte " + (offset + length));
                }
                copied += moved;
            }
        }
    }

    private MappedByteBuffer segment(int index) {
        MappedByteBuffer segment = segments[index];
        if (segment == null) {
            long start = (long) index * SEGMENT_BYTES;
            try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
                segment = channel.map(FileChannel.MapMode.READ_ONLY, offset + start, Math.min(SEGMENT_BYTES, length - start));
            } catch (IOException e) {
                throw new CondenseException(ErrorCode.INVALID_EXTERNAL_DATA, "cannot map the data of tensor '" + name + "' in " + file
                        + ": " + e.getMessage(), e);
            }
            segment.order(ByteOrder.LITTLE_ENDIAN);
            segments[index] = segment;
        }
        return segment;
    }

    private static String entry(TensorProto tensor, String key) {
        for (StringStringEntryProto entry : tensor.getExternalDataList()) {
            if (entry.getKey().equals(key)) {
                return entry.getValue();
            }
        }
        return null;
    }
}
