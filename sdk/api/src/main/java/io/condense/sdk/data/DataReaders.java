package io.condense.sdk.data;

import static java.util.Objects.requireNonNull;

import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.tensor.DataType;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads evaluation and calibration data in any supported format, chosen by content (the .npy magic, the
 * zip signature of .npz, the gzip or IDX magic) and, failing that, by extension.
 */
public final class DataReaders {
    private static final List<String> INPUT_NAMES = List.of("x", "inputs", "input", "images", "data");
    private static final List<String> LABEL_NAMES = List.of("y", "labels", "label", "targets");

    private DataReaders() {
    }

    /** One array: an .npy or IDX file (raw or gzip), or an .npz holding exactly one array. */
    public static NdArray read(Path file) {
        requireNonNull(file, "file is null");
        Map<String, NdArray> arrays = readAll(file);
        if (arrays.size() != 1) {
            throw new CondenseException(ErrorCode.INVALID_DATA, file + " holds " + arrays.size() + " arrays (" + String.join(", ",
                    arrays.keySet()) + "); name the one to use, or use DataReaders.readAll");
        }
        return arrays.values().iterator().next();
    }

    /** Every array in a file: all arrays of an .npz, or the single array of an .npy or IDX file (named after the file). */
    public static Map<String, NdArray> readAll(Path file) {
        requireNonNull(file, "file is null");
        String name = file.getFileName() == null ? file.toString() : file.getFileName().toString();
        String lower = name.toLowerCase(java.util.Locale.ROOT);
        if (lower.endsWith(".npz")) {
            return Npz.read(file);
        }
        Map<String, NdArray> single = new LinkedHashMap<>();
        String stem = name.contains(".") ? name.substring(0, name.indexOf('.')) : name;
        if (Npy.isNpy(file)) {
            // memory-mapped: samples are read when used, so a large calibration set does not fill the heap
            single.put(stem, Npy.read(file));
            return single;
        }
        byte[] bytes = DataFiles.readAll(file);
        if (bytes.length >= 4 && bytes[0] == 'P' && bytes[1] == 'K' && bytes[2] == 3 && bytes[3] == 4) {
            return Npz.read(file);
        } else if (Idx.isGzip(bytes) || Idx.looksLikeIdx(bytes) || lower.contains("idx") || lower.endsWith(".gz")) {
            single.put(stem, Idx.parse(bytes, file.toString()));
        } else {
            throw new CondenseException(ErrorCode.INVALID_DATA, "cannot read " + file + ": it is not an .npy, .npz or IDX file "
                    + "(supported: .npy and .npz with float32, float16, uint8, int8, int32 or int64 arrays in C order, and IDX files, raw or gzip)");
        }
        return single;
    }

    /**
     * A data set from an inputs file and an optional labels file. Without a labels file an .npz may hold
     * both: the inputs under x, inputs, input, images or data, the labels under y, labels, label or targets
     * (or an .npz of one array: inputs only). Labels must be integers, one per sample.
     */
    public static Dataset dataset(Path inputs, Path labelsOrNull) {
        requireNonNull(inputs, "inputs is null");
        NdArray inputArray;
        NdArray labelArray = null;
        Map<String, NdArray> arrays = readAll(inputs);
        if (arrays.size() == 1) {
            inputArray = arrays.values().iterator().next();
        } else {
            inputArray = pick(arrays, INPUT_NAMES);
            if (inputArray == null) {
                throw new CondenseException(ErrorCode.INVALID_DATA, inputs + " holds arrays " + String.join(", ", arrays.keySet())
                        + " but none named " + String.join(", ", INPUT_NAMES) + " to use as inputs");
            }
            if (labelsOrNull == null) {
                labelArray = pick(arrays, LABEL_NAMES);
            }
        }
        if (labelsOrNull != null) {
            labelArray = read(labelsOrNull);
        }
        if (inputArray.shape().length == 0) {
            throw new CondenseException(ErrorCode.INVALID_DATA, "inputs in " + inputs + " are a scalar; they need a first (sample) dimension");
        }
        if (labelArray == null) {
            return Dataset.of(inputArray);
        }
        String labelSource = labelsOrNull != null ? labelsOrNull.toString() : inputs.toString();
        DataType type = labelArray.dataType();
        if (type.isFloatingPoint()) {
            throw new CondenseException(ErrorCode.INVALID_DATA, "labels in " + labelSource + " are " + type
                    + "; labels must be integer class indices (uint8, int8, int32 or int64)");
        }
        long[] shape = labelArray.shape();
        if (shape.length == 2 && shape[1] == 1) {
            labelArray = labelArray.reshape(new long[] {shape[0]});
        } else if (shape.length != 1) {
            throw new CondenseException(ErrorCode.INVALID_DATA, "labels in " + labelSource + " have shape " + Arrays.toString(shape)
                    + "; expected one label per sample, shape [N]");
        }
        try {
            return Dataset.of(inputArray, labelArray);
        } catch (IllegalArgumentException e) {
            throw new CondenseException(ErrorCode.INVALID_DATA, "inputs " + inputs + " and labels " + labelSource + " do not match: "
                    + e.getMessage(), e);
        }
    }

    private static NdArray pick(Map<String, NdArray> arrays, List<String> names) {
        for (String name : names) {
            NdArray array = arrays.get(name);
            if (array != null) {
                return array;
            }
        }
        return null;
    }
}
