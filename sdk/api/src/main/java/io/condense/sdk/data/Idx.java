package io.condense.sdk.data;

import static java.util.Objects.requireNonNull;

import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.zip.GZIPInputStream;

/**
 * IDX files (the MNIST format), raw or gzip-compressed (detected by the gzip magic 1f 8b): big-endian
 * magic {@code 00 00 <type> <rank>}, rank big-endian u32 dimensions, then the values big-endian. Types:
 * 0x08 uint8, 0x09 int8, 0x0B int16 (read as int32), 0x0C int32, 0x0D float32, 0x0E float64 (read as
 * float32). Hand-written: no Java library reads IDX.
 */
public final class Idx {
    private Idx() {
    }

    public static NdArray read(Path file) {
        requireNonNull(file, "file is null");
        return parse(DataFiles.readAll(file), file.toString());
    }

    static boolean isGzip(byte[] bytes) {
        return bytes.length >= 2 && (bytes[0] & 0xFF) == 0x1F && (bytes[1] & 0xFF) == 0x8B;
    }

    static boolean looksLikeIdx(byte[] bytes) {
        if (bytes.length < 4 || bytes[0] != 0 || bytes[1] != 0) {
            return false;
        }
        int type = bytes[2] & 0xFF;
        return type == 0x08 || type == 0x09 || type == 0x0B || type == 0x0C || type == 0x0D || type == 0x0E;
    }

    static NdArray parse(byte[] raw, String source) {
        byte[] bytes = raw;
        if (isGzip(raw)) {
            try (InputStream in = new GZIPInputStream(new ByteArrayInputStream(raw))) {
                bytes = in.readAllBytes();
            } catch (IOException e) {
                throw invalid(source, "it looks gzip-compressed but cannot be decompressed (" + e.getMessage() + ")");
            } catch (OutOfMemoryError e) {
                throw new CondenseException(ErrorCode.RESOURCE_EXHAUSTED, "decompressing " + source + " needs more memory than is available");
            }
        }
        if (bytes.length < 4 || bytes[0] != 0 || bytes[1] != 0) {
            throw invalid(source, "it does not start with the IDX magic 00 00 <type> <rank>");
        }
        int type = bytes[2] & 0xFF;
        int rank = bytes[3] & 0xFF;
        int width = switch (type) {
            case 0x08, 0x09 -> 1;
            case 0x0B -> 2;
            case 0x0C, 0x0D -> 4;
            case 0x0E -> 8;
            default -> throw invalid(source, String.format("its type code is 0x%02X; supported are 0x08 (uint8), 0x09 (int8), "
                    + "0x0B (int16), 0x0C (int32), 0x0D (float32) and 0x0E (float64)", type));
        };
        if (bytes.length < 4 + 4L * rank) {
            throw invalid(source, "the file ends inside its " + rank + " dimensions");
        }
        ByteBuffer buffer = ByteBuffer.wrap(bytes).order(ByteOrder.BIG_ENDIAN);
        long[] shape = new long[rank];
        long count = 1;
        for (int i = 0; i < rank; i++) {
            shape[i] = buffer.getInt(4 + 4 * i) & 0xFFFFFFFFL;
            count *= shape[i];
        }
        long dataStart = 4 + 4L * rank;
        long available = bytes.length - dataStart;
        if (available != count * width) {
            throw invalid(source, "its header promises " + count + " values of " + width + " bytes (" + count * width
                    + " bytes) but it holds " + available + (available < count * width ? " (truncated?)" : ""));
        }
        int n = (int) count;
        int start = (int) dataStart;
        switch (type) {
            case 0x08 -> {
                byte[] values = new byte[n];
                System.arraycopy(bytes, start, values, 0, n);
                return NdArray.ofUint8(shape, values);
            }
            case 0x09 -> {
                byte[] values = new byte[n];
                System.arraycopy(bytes, start, values, 0, n);
                return NdArray.ofInt8(shape, values);
            }
            case 0x0B -> {
                int[] values = new int[n];
                for (int i = 0; i < n; i++) {
                    values[i] = buffer.getShort(start + 2 * i);
                }
                return NdArray.ofInts(shape, values);
            }
            case 0x0C -> {
                int[] values = new int[n];
                buffer.position(start);
                buffer.asIntBuffer().get(values);
                return NdArray.ofInts(shape, values);
            }
            case 0x0D -> {
                float[] values = new float[n];
                buffer.position(start);
                buffer.asFloatBuffer().get(values);
                return NdArray.ofFloats(shape, values);
            }
            default -> {
                float[] values = new float[n];
                for (int i = 0; i < n; i++) {
                    values[i] = (float) buffer.getDouble(start + 8 * i);
                }
                return NdArray.ofFloats(shape, values);
            }
        }
    }

    private static CondenseException invalid(String source, String problem) {
        return new CondenseException(ErrorCode.INVALID_DATA, "cannot read " + source + " as IDX: " + problem);
    }
}
