package io.condense.sdk.weights;

import static java.util.Objects.requireNonNull;

import io.condense.sdk.data.NdArray;
import io.condense.sdk.data.Npz;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.model.InitializerInfo;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.tensor.Tensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/** Named tensors from a weights file a training system wrote: safetensors, an {@code .npz} of named arrays, or a whole ONNX model. */
public final class WeightsFile {
    /** The formats read. */
    public enum Format {
        SAFETENSORS, NPZ, ONNX;

        /** The format of these bytes: a zip is .npz, a plausible safetensors header is safetensors, anything else ONNX. */
        public static Format detect(byte[] bytes) {
            if (bytes.length >= 4 && bytes[0] == 'P' && bytes[1] == 'K' && bytes[2] == 3 && bytes[3] == 4) {
                return NPZ;
            }
            return Safetensors.looksLike(bytes) ? SAFETENSORS : ONNX;
        }

        /** The format a file name's extension names, or null. */
        public static Format ofFileName(String name) {
            String lower = name.toLowerCase(Locale.ROOT);
            if (lower.endsWith(".safetensors")) {
                return SAFETENSORS;
            }
            if (lower.endsWith(".npz")) {
                return NPZ;
            }
            return lower.endsWith(".onnx") ? ONNX : null;
        }
    }

    private WeightsFile() {
    }

    /** The tensors the bytes hold, by name; {@code format} null detects it. {@code source} names the file in errors. */
    public static Map<String, Tensor> read(byte[] bytes, Format format, String source) {
        requireNonNull(bytes, "bytes is null");
        Format actual = format == null ? Format.detect(bytes) : format;
        return switch (actual) {
            case SAFETENSORS -> Safetensors.read(bytes, source);
            case NPZ -> fromNpz(Npz.read(bytes, source));
            case ONNX -> fromOnnx(bytes, source);
        };
    }

    private static Map<String, Tensor> fromNpz(Map<String, NdArray> arrays) {
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        arrays.forEach((name, array) -> tensors.put(name, tensor(name, array)));
        return Collections.unmodifiableMap(tensors);
    }

    private static Map<String, Tensor> fromOnnx(byte[] bytes, String source) {
        OnnxModel model;
        try {
            model = OnnxModel.fromBytes(bytes);
        } catch (CondenseException e) {
            throw new CondenseException(e.code(), "cannot read " + source + " (neither safetensors nor .npz, so read as ONNX): "
                    + e.getMessage(), e);
        }
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        for (InitializerInfo initializer : model.initializers()) {
            tensors.put(initializer.name(), model.tensor(initializer.name()));
        }
        return Collections.unmodifiableMap(tensors);
    }

    /** An .npy array as a tensor of the same type and shape. */
    static Tensor tensor(String name, NdArray array) {
        Object data = array.data();
        return switch (array.dataType()) {
            case FLOAT -> Tensor.fromFloats(name, array.dataType(), array.shape(), (float[]) data);
            case INT32 -> Tensor.fromInts(name, array.dataType(), array.shape(), (int[]) data);
            case INT64 -> Tensor.fromLongs(name, array.shape(), (long[]) data);
            case INT8, UINT8 -> Tensor.fromRaw(name, array.dataType(), array.shape(), (byte[]) data);
            case FLOAT16 -> {
                short[] bits = (short[]) data;
                ByteBuffer raw = ByteBuffer.allocate(bits.length * 2).order(ByteOrder.LITTLE_ENDIAN);
                raw.asShortBuffer().put(bits);
                yield Tensor.fromRaw(name, array.dataType(), array.shape(), raw.array());
            }
            default -> throw new CondenseException(ErrorCode.INVALID_DATA, "array '" + name + "' has the unsupported type " + array.dataType());
        };
    }
}
