package io.condense.sdk.data;

import static java.util.Objects.requireNonNull;

import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.tensor.DataType;
import java.io.IOException;
import java.io.OutputStream;
import java.lang.ref.WeakReference;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * NumPy {@code .npy} files (format versions 1.0, 2.0 and 3.0), C order, little-endian float32, float16,
 * uint8, int8, int32 and int64. Hand-written: no Java library reads the NumPy format.
 */
public final class Npy {
    private static final byte[] MAGIC = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y'};
    private static final Pattern DESCR = Pattern.compile("'descr'\\s*:\\s*'([^']*)'");
    private static final Pattern FORTRAN = Pattern.compile("'fortran_order'\\s*:\\s*(True|False)");
    private static final Pattern SHAPE = Pattern.compile("'shape'\\s*:\\s*\\(([^)]*)\\)");
    private static final String SUPPORTED = "supported are <f4 (float32), <f2 (float16), |u1 (uint8), |i1 (int8), <i4 (int32) "
            + "and <i8 (int64) in C order";

    private Npy() {
    }

    /**
     * Reads an .npy file memory-mapped: the values stay in the file's pages and are read when used ({@link NdArray#slice},
     * {@link NdArray#getFloat}), so a calibration set larger than the heap is read one sample at a time. Files of 2 GiB
     * and more are refused (one mapping holds at most 2 GiB). A file read again while an earlier mapping of it is still in
     * the heap (a server's next job on the same data) shares that mapping ({@link #mapping}).
     */
    public static NdArray read(Path file) {
        requireNonNull(file, "file is null");
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = channel.size();
            if (size > Integer.MAX_VALUE - 8) {
                throw new CondenseException(ErrorCode.RESOURCE_EXHAUSTED, "data file " + file + " is " + size
                        + " bytes; split it into files under 2 GiB");
            }
            return parse(mapping(file, channel, size), file.toString(), false);
        } catch (NoSuchFileException e) {
            throw new CondenseException(ErrorCode.INVALID_DATA, "data file " + file + " does not exist", e);
        } catch (IOException e) {
            throw new CondenseException(ErrorCode.INVALID_DATA, "cannot read data file " + file + ": " + e.getMessage(), e);
        }
    }

    /**
     * The file's pages mapped, or the mapping an earlier read made of the same file (device and inode, and size) while it is
     * still reachable. The JDK cannot unmap a buffer: a mapping lives until the collector frees its last view, and every
     * live mapping's touched pages count toward the process's resident memory, so a server that maps a 921 MB calibration
     * file for each job showed 921 MB more resident memory per job (the same page cache, counted once per mapping) until a
     * full collection. Sharing is safe: a shared read-only mapping shows the file's page cache, which is what a new mapping
     * of the same inode would show (a file written in place is seen by both; one replaced by a rename is another inode,
     * one truncated or extended another size). The modification time is not part of the key: the server touches a blob
     * stored again (its retention starts over) without changing it.
     */
    static ByteBuffer mapping(Path file, FileChannel channel, long size) throws IOException {
        BasicFileAttributes attributes = Files.readAttributes(file, BasicFileAttributes.class);
        if (attributes.fileKey() == null) {
            return channel.map(FileChannel.MapMode.READ_ONLY, 0, size);
        }
        MappedFile key = new MappedFile(attributes.fileKey(), size);
        synchronized (MAPPINGS) {
            MAPPINGS.values().removeIf(reference -> reference.get() == null);
            WeakReference<ByteBuffer> earlier = MAPPINGS.get(key);
            ByteBuffer mapped = earlier == null ? null : earlier.get();
            if (mapped == null) {
                mapped = channel.map(FileChannel.MapMode.READ_ONLY, 0, size);
                MAPPINGS.put(key, new WeakReference<>(mapped));
            }
            // a view of its own (position and limit are per view); it keeps the mapping reachable while it is used
            return mapped.duplicate();
        }
    }

    /** A mapped file's identity: the file system's key for it (device and inode on Linux) and its size. */
    private record MappedFile(Object fileKey, long size) {
    }

    /** Guarded by itself. */
    private static final Map<MappedFile, WeakReference<ByteBuffer>> MAPPINGS = new HashMap<>();

    /** Whether the file starts with the .npy magic bytes (reads only those). */
    static boolean isNpy(Path file) {
        try (var in = Files.newInputStream(file)) {
            return isNpy(in.readNBytes(MAGIC.length));
        } catch (IOException e) {
            return false;
        }
    }

    static boolean isNpy(byte[] bytes) {
        if (bytes.length < MAGIC.length) {
            return false;
        }
        for (int i = 0; i < MAGIC.length; i++) {
            if (bytes[i] != MAGIC[i]) {
                return false;
            }
        }
        return true;
    }

    /** Parses the bytes of an .npy file; {@code source} names it in error messages. */
    static NdArray parse(byte[] bytes, String source) {
        return parse(ByteBuffer.wrap(bytes), source, true);
    }

    /** Parses an .npy file held in {@code whole}; the values are copied into a primitive array, or left in the buffer. */
    private static NdArray parse(ByteBuffer whole, String source, boolean copy) {
        int length = whole.remaining();
        byte[] start = new byte[Math.min(length, 12)];
        whole.duplicate().get(start);
        if (!isNpy(start) || length < 10) {
            throw invalid(source, "it does not start with the .npy magic bytes \\x93NUMPY");
        }
        int major = start[6] & 0xFF;
        ByteBuffer buffer = whole.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        long headerLength;
        int headerStart;
        if (major == 1) {
            headerLength = buffer.getShort(8) & 0xFFFF;
            headerStart = 10;
        } else if (major == 2 || major == 3) {
            if (length < 12) {
                throw invalid(source, "the file ends inside its header");
            }
            headerLength = buffer.getInt(8) & 0xFFFFFFFFL;
            headerStart = 12;
        } else {
            throw invalid(source, "it is .npy format version " + major + "." + (start[7] & 0xFF) + "; supported are 1.0, 2.0 and 3.0");
        }
        if (headerStart + headerLength > length) {
            throw invalid(source, "the file ends inside its header");
        }
        byte[] headerBytes = new byte[(int) headerLength];
        buffer.position(headerStart);
        buffer.get(headerBytes);
        String header = new String(headerBytes, major == 3 ? StandardCharsets.UTF_8 : StandardCharsets.ISO_8859_1);
        Matcher descr = DESCR.matcher(header);
        Matcher fortran = FORTRAN.matcher(header);
        Matcher shapeText = SHAPE.matcher(header);
        if (!descr.find() || !fortran.find() || !shapeText.find()) {
            throw invalid(source, "its header is not a NumPy array header: " + header.trim());
        }
        if (fortran.group(1).equals("True")) {
            throw invalid(source, "the array is in Fortran (column-major) order; " + SUPPORTED
                    + " (save it with numpy.ascontiguousarray)");
        }
        long[] shape = parseShape(shapeText.group(1), source);
        String dtype = descr.group(1);
        DataType type = switch (dtype) {
            case "<f4" -> DataType.FLOAT;
            case "<f2" -> DataType.FLOAT16;
            case "|u1", "<u1", "u1" -> DataType.UINT8;
            case "|i1", "<i1", "i1" -> DataType.INT8;
            case "<i4" -> DataType.INT32;
            case "<i8" -> DataType.INT64;
            default -> throw invalid(source, "its element type is '" + dtype + "'" + describe(dtype) + "; " + SUPPORTED);
        };
        long count;
        try {
            count = NdArray.elementCount(shape);
        } catch (ArithmeticException e) {
            throw invalid(source, "its shape is impossibly large");
        }
        int width = type.bits() / 8;
        long dataStart = headerStart + headerLength;
        long available = length - dataStart;
        if (available != count * width) {
            throw invalid(source, "its header promises " + count + " elements of " + width + " bytes (" + count * width
                    + " bytes) but the file holds " + available + " bytes of data" + (available < count * width ? " (truncated?)" : ""));
        }
        buffer.position((int) dataStart);
        buffer.limit((int) (dataStart + available));
        ByteBuffer data = buffer.slice().order(ByteOrder.LITTLE_ENDIAN);
        if (!copy) {
            return NdArray.mapped(type, shape, data);
        }
        int n = (int) count;
        return switch (type) {
            case FLOAT -> {
                float[] values = new float[n];
                data.asFloatBuffer().get(values);
                yield NdArray.ofFloats(shape, values);
            }
            case FLOAT16 -> {
                short[] values = new short[n];
                data.asShortBuffer().get(values);
                yield NdArray.ofFloat16(shape, values);
            }
            case UINT8 -> {
                byte[] values = new byte[n];
                data.get(values);
                yield NdArray.ofUint8(shape, values);
            }
            case INT8 -> {
                byte[] values = new byte[n];
                data.get(values);
                yield NdArray.ofInt8(shape, values);
            }
            case INT32 -> {
                int[] values = new int[n];
                data.asIntBuffer().get(values);
                yield NdArray.ofInts(shape, values);
            }
            case INT64 -> {
                long[] values = new long[n];
                data.asLongBuffer().get(values);
                yield NdArray.ofLongs(shape, values);
            }
            default -> throw new IllegalStateException("unreachable: " + type);
        };
    }

    private static String describe(String dtype) {
        if (dtype.startsWith(">")) {
            return " (big-endian)";
        }
        if (dtype.contains("O")) {
            return " (Python objects)";
        }
        return "";
    }

    private static long[] parseShape(String text, String source) {
        List<Long> dims = new ArrayList<>();
        for (String part : text.split(",")) {
            String trimmed = part.trim();
            if (trimmed.isEmpty()) {
                continue;
            }
            if (trimmed.endsWith("L")) {
                trimmed = trimmed.substring(0, trimmed.length() - 1);
            }
            try {
                long dim = Long.parseLong(trimmed);
                if (dim < 0) {
                    throw invalid(source, "its shape (" + text + ") has a negative dimension");
                }
                dims.add(dim);
            } catch (NumberFormatException e) {
                throw invalid(source, "its shape (" + text + ") is not a tuple of integers");
            }
        }
        long[] shape = new long[dims.size()];
        for (int i = 0; i < shape.length; i++) {
            shape[i] = dims.get(i);
        }
        return shape;
    }

    /** Writes an array as an .npy file (format 1.0, or 2.0 when the header needs it). */
    public static void write(Path file, NdArray array) {
        requireNonNull(file, "file is null");
        requireNonNull(array, "array is null");
        try (OutputStream out = Files.newOutputStream(file)) {
            out.write(toBytes(array));
        } catch (IOException e) {
            throw new CondenseException(ErrorCode.RESOURCE_EXHAUSTED, "cannot write " + file + ": " + e.getMessage(), e);
        }
    }

    /** The bytes of an .npy file holding the array. */
    public static byte[] toBytes(NdArray array) {
        requireNonNull(array, "array is null");
        String descr = switch (array.dataType()) {
            case FLOAT -> "<f4";
            case FLOAT16 -> "<f2";
            case UINT8 -> "|u1";
            case INT8 -> "|i1";
            case INT32 -> "<i4";
            case INT64 -> "<i8";
            default -> throw new IllegalArgumentException("cannot write " + array.dataType() + " to .npy");
        };
        long[] shape = array.shape();
        StringBuilder shapeText = new StringBuilder("(");
        for (int i = 0; i < shape.length; i++) {
            shapeText.append(shape[i]);
            if (shape.length == 1 || i < shape.length - 1) {
                shapeText.append(shape.length == 1 ? "," : ", ");
            }
        }
        shapeText.append(')');
        String dictionary = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shapeText + ", }";
        int width = array.dataType().bits() / 8;
        long dataBytes = (long) array.size() * width;
        int prefix = 10;
        int headerLength = dictionary.length() + 1;
        int major = 1;
        if (prefix + headerLength > 65535) {
            prefix = 12;
            major = 2;
        }
        int padded = (prefix + headerLength + 63) / 64 * 64 - prefix; // the data starts at a multiple of 64
        if (prefix + padded + dataBytes > Integer.MAX_VALUE - 8) {
            throw new CondenseException(ErrorCode.RESOURCE_EXHAUSTED, "the array is too large for one .npy buffer (" + dataBytes + " bytes)");
        }
        ByteBuffer out = ByteBuffer.allocate((int) (prefix + padded + dataBytes)).order(ByteOrder.LITTLE_ENDIAN);
        out.put(MAGIC).put((byte) major).put((byte) 0);
        if (major == 1) {
            out.putShort((short) padded);
        } else {
            out.putInt(padded);
        }
        out.put(dictionary.getBytes(StandardCharsets.ISO_8859_1));
        for (int i = dictionary.length(); i < padded - 1; i++) {
            out.put((byte) ' ');
        }
        out.put((byte) '\n');
        ByteBuffer data = out.slice().order(ByteOrder.LITTLE_ENDIAN);
        switch (array.dataType()) {
            case FLOAT -> data.asFloatBuffer().put((float[]) array.data());
            case FLOAT16 -> data.asShortBuffer().put((short[]) array.data());
            case UINT8, INT8 -> data.put((byte[]) array.data());
            case INT32 -> data.asIntBuffer().put((int[]) array.data());
            case INT64 -> data.asLongBuffer().put((long[]) array.data());
            default -> throw new IllegalStateException("unreachable");
        }
        return out.array();
    }

    static CondenseException invalid(String source, String problem) {
        return new CondenseException(ErrorCode.INVALID_DATA, "cannot read " + source + " as .npy: " + problem);
    }
}
