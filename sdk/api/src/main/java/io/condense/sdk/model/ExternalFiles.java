package io.condense.sdk.model;

import static java.util.Objects.requireNonNull;

import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.StringStringEntryProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * The files a model keeps its tensors in (ONNX external data), seen without reading them: which data files a model file
 * names, and the model with those names changed. For moving a model with its data files (uploads and downloads of model
 * bundles); {@link OnnxModel#load} is what reads the data.
 */
public final class ExternalFiles {
    private ExternalFiles() {
    }

    /** A model file's proto as stored, its external tensors left external (the file itself must be under 2 GiB). */
    public static ModelProto readModelFile(Path file) {
        requireNonNull(file, "file is null");
        try {
            long size = Files.size(file);
            if (size > OnnxModel.MAX_SERIALIZED_BYTES) {
                throw new CondenseException(ErrorCode.RESOURCE_EXHAUSTED, "model file " + file + " is " + size
                        + " bytes; an ONNX protobuf file cannot exceed 2 GiB: keep large tensors as external data");
            }
            return OnnxModel.parse(Files.readAllBytes(file), true);
        } catch (NoSuchFileException e) {
            throw new CondenseException(ErrorCode.NOT_FOUND, "model file " + file + " does not exist", e);
        } catch (IOException e) {
            throw new CondenseException(ErrorCode.INVALID_MODEL, "cannot read model file " + file + ": " + e.getMessage(), e);
        }
    }

    /**
     * Every data file the model names (the {@code location} of its external tensors), in the order of first use, each
     * with the name of the first tensor that names it; empty when the model keeps every tensor inline.
     */
    public static Map<String, String> locations(ModelProto model) {
        requireNonNull(model, "model is null");
        Map<String, String> locations = new LinkedHashMap<>();
        ExternalData.replaceExternal(model, tensor -> {
            String location = ExternalData.entry(tensor, "location");
            locations.putIfAbsent(location == null ? "" : location, tensor.getName());
            return tensor;
        });
        return locations;
    }

    /** The model with each data file name that {@code renames} holds replaced by its new name; the others kept. */
    public static ModelProto renamed(ModelProto model, Map<String, String> renames) {
        requireNonNull(model, "model is null");
        requireNonNull(renames, "renames is null");
        return ExternalData.replaceExternal(model, tensor -> {
            TensorProto.Builder builder = tensor.toBuilder();
            for (int i = 0; i < builder.getExternalDataCount(); i++) {
                StringStringEntryProto entry = builder.getExternalData(i);
                if (entry.getKey().equals("location") && renames.containsKey(entry.getValue())) {
                    builder.setExternalData(i, entry.toBuilder().setValue(renames.get(entry.getValue())));
                }
            }
            return builder.build();
        });
    }

    /**
     * Why a data file name cannot be used (the ONNX rule: a relative path that stays inside the model's folder), or
     * empty when it can.
     */
    public static Optional<String> locationProblem(String location) {
        requireNonNull(location, "location is null");
        if (location.isEmpty()) {
            return Optional.of("it is empty (every external tensor needs a 'location' key)");
        }
        if (location.startsWith("/") || location.startsWith("\\") || location.matches("^[A-Za-z]:.*")) {
            return Optional.of("it is an absolute path; external data must be a relative path inside the model's folder");
        }
        Path path;
        try {
            path = Path.of(location);
        } catch (InvalidPathException e) {
            return Optional.of("it is not a valid path");
        }
        Path normalized = path.normalize();
        if (normalized.toString().isEmpty() || normalized.startsWith("..") || !normalized.equals(path)) {
            return Optional.of("it leaves the model's folder or is not in its simplest form (no '.', '..' or double '/')");
        }
        return Optional.empty();
    }
}
