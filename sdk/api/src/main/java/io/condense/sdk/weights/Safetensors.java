package io.condense.sdk.weights;

import static java.util.Objects.requireNonNull;

import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.tensor.DataType;
import io.condense.sdk.tensor.Tensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The safetensors format (Hugging Face; what most PyTorch training code writes): an 8-byte little-endian header length N,
 * N bytes of JSON mapping each tensor name to {@code {"dtype", "shape", "data_offsets": [begin, end]}} (offsets into the
 * bytes after the header; an optional {@code "__metadata__"} object of strings), then the raw little-endian values in C
 * order. Hand-written: the whole specification is these ten lines and no Java library for it is kept up; the JSON is
 * read by {@link MiniJson}.
 */
public final class Safetensors {
    /** The specification's limit on the header, 100 MB. */
    private static final long MAX_HEADER_BYTES = 100_000_000L;
    private static final Map<String, DataType> TYPES = Map.of(
            "F32", DataType.FLOAT, "F16", DataType.FLOAT16, "BF16", DataType.BFLOAT16, "I8", DataType.INT8,
            "U8", DataType.UINT8, "I32", DataType.INT32, "I64", DataType.INT64);

    private Safetensors() {
    }

    /** Whether the bytes look like a safetensors file: a plausible header length followed by '{'. */
    static boolean looksLike(byte[] bytes) {
        if (bytes.length < 10) {
            return false;
        }
        long length = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
        return length >= 2 && length <= bytes.length - 8L && bytes[8] == '{';
    }

    /**
     * Every tensor of the file, by name, in header order; {@code source} names the file in errors. The tensors share
     * {@code bytes} rather than copy them (a pushed update is a megabyte or more, read to be checked and merged): do not
     * change the array afterwards.
     */
    public static Map<String, Tensor> read(byte[] bytes, String source) {
        requireNonNull(bytes, "bytes is null");
        if (bytes.length < 8) {
            throw invalid(source, "it is " + bytes.length + " bytes long, shorter than the 8-byte header length");
        }
        ByteBuffer buffer = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        long headerLength = buffer.getLong(0);
        if (headerLength < 2 || headerLength > MAX_HEADER_BYTES || headerLength > bytes.length - 8L) {
            throw invalid(source, "its header length " + headerLength + " does not fit the " + bytes.length + " bytes of the file");
        }
        Object header;
        try {
            header = MiniJson.parse(new String(bytes, 8, (int) headerLength, StandardCharsets.UTF_8));
        } catch (IllegalArgumentException e) {
            throw invalid(source, "its header is not valid JSON: " + e.getMessage());
        }
        if (!(header instanceof Map<?, ?> entries)) {
            throw invalid(source, "its header is not a JSON object");
        }
        int dataStart = 8 + (int) headerLength;
        long dataLength = bytes.length - (long) dataStart;
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        for (Map.Entry<?, ?> entry : entries.entrySet()) {
            String name = (String) entry.getKey();
            if (name.equals("__metadata__")) {
                continue;
            }
            if (!(entry.getValue() instanceof Map<?, ?> info)) {
                throw invalid(source, "the header entry of tensor '" + name + "' is not an object");
            }
            tensors.put(name, tensor(name, info, bytes, dataStart, dataLength, source));
        }
        return tensors;
    }

    private static Tensor tensor(String name, Map<?, ?> info, byte[] bytes, int dataStart, long dataLength, String source) {
        Object dtype = info.get("dtype");
        DataType type = TYPES.get(String.valueOf(dtype));
        if (type == null) {
            throw invalid(source, "tensor '" + name + "' has dtype " + dtype + "; supported are F32, F16, BF16, I8, U8, I32 and I64");
        }
        long[] shape = longs(info.get("shape"), name, "shape", source);
        long[] offsets = longs(info.get("data_offsets"), name, "data_offsets", source);
        if (offsets.length != 2 || offsets[0] < 0 || offsets[1] < offsets[0] || offsets[1] > dataLength) {
            throw invalid(source, "tensor '" + name + "' has data_offsets " + Arrays.toString(offsets) + " outside the "
                    + dataLength + " data bytes");
        }
        long count = 1;
        for (long dimension : shape) {
            if (dimension < 0) {
                throw invalid(source, "tensor '" + name + "' has a negative dimension in shape " + Arrays.toString(shape));
            }
            count = Math.multiplyExact(count, dimension);
        }
        long expected = type.byteSize(count);
        if (offsets[1] - offsets[0] != expected) {
            throw invalid(source, "tensor '" + name + "' (" + info.get("dtype") + ", shape " + Arrays.toString(shape) + ") needs "
                    + expected + " bytes but its data_offsets span " + (offsets[1] - offsets[0]));
        }
        return Tensor.wrapRaw(name, type, shape, bytes, dataStart + (int) offsets[0], (int) (offsets[1] - offsets[0]));
    }

    private static long[] longs(Object value, String name, String field, String source) {
        if (!(value instanceof List<?> list)) {
            throw invalid(source, "tensor '" + name + "' has no " + field + " list");
        }
        long[] out = new long[list.size()];
        for (int i = 0; i < out.length; i++) {
            if (!(list.get(i) instanceof Long number)) {
                throw invalid(source, "tensor '" + name + "' has a " + field + " entry that is not an integer: " + list.get(i));
            }
            out[i] = number;
        }
        return out;
    }

    /** Writes tensors as a safetensors file, in map order (for clients and tests; the server only reads). */
    public static byte[] toBytes(Map<String, Tensor> tensors) {
        requireNonNull(tensors, "tensors is null");
        StringBuilder header = new StringBuilder("{");
        long offset = 0;
        for (Map.Entry<String, Tensor> entry : tensors.entrySet()) {
            Tensor tensor = entry.getValue();
            String dtype = TYPES.entrySet().stream().filter(type -> type.getValue() == tensor.dataType()).findFirst()
                    .orElseThrow(() -> new CondenseException(ErrorCode.INVALID_DATA, "safetensors has no dtype for " + tensor.dataType()))
                    .getKey();
            if (header.length() > 1) {
                header.append(',');
            }
            header.append('"').append(entry.getKey().replace("\\", "\\\\").replace("\"", "\\\"")).append("\":{\"dtype\":\"").append(dtype)
                    .append("\",\"shape\":").append(Arrays.toString(tensor.shape()).replace(" ", ""))
                    .append(",\"data_offsets\":[").append(offset).append(',').append(offset + tensor.byteSize()).append("]}");
            offset += tensor.byteSize();
        }
        header.append('}');
        byte[] json = header.toString().getBytes(StandardCharsets.UTF_8);
        ByteBuffer out = ByteBuffer.allocate(Math.toIntExact(8 + json.length + offset)).order(ByteOrder.LITTLE_ENDIAN);
        out.putLong(json.length).put(json);
        for (Tensor tensor : tensors.values()) {
            out.put(tensor.raw().duplicate());
        }
        return out.array();
    }

    private static CondenseException invalid(String source, String why) {
        return new CondenseException(ErrorCode.INVALID_DATA, "cannot read " + source + " as safetensors: " + why);
    }
}
