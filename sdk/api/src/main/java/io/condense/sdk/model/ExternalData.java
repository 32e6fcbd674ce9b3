package io.condense.sdk.model;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.SparseTensorProto;
import ai.onnx.proto.OnnxMl.StringStringEntryProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import com.google.protobuf.ByteString;
import com.google.protobuf.UnsafeByteOperations;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.tensor.DataType;
import io.condense.sdk.tensor.LargeTensor;
import io.condense.sdk.tensor.OffHeapBytes;
import io.condense.sdk.tensor.OnnxTypes;
import io.condense.sdk.tensor.Tensor;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.function.UnaryOperator;

/**
 * ONNX external data (docs/ExternalData.md in the ONNX repository): tensors whose bytes live in another
 * file named by the {@code location} key, at {@code offset} for {@code length} bytes. Reading resolves
 * every location inside the model file's folder and memory-maps each large tensor (its bytes stay in the page cache,
 * not the heap); writing streams large initializers one by one into one data file.
 */
final class ExternalData {
    static final int ALIGNMENT = 4096;
    /**
     * Tensors of at least this many bytes are memory-mapped, not read into the heap; smaller ones are read (each mapping
     * costs a kernel map entry, of which a process has about 65,000).
     */
    static final long MAP_THRESHOLD = 64 * 1024;
    /** The most bytes one tensor's data can hold: a protobuf ByteString and a Java array are indexed by int. */
    static final long MAX_TENSOR_BYTES = Integer.MAX_VALUE - 8;

    private ExternalData() {
    }

    /** Fails with INVALID_EXTERNAL_DATA when a model given as bytes or proto refers to external data. */
    static void refuseExternal(ModelProto model) {
        GraphProto graph = model.getGraph();
        for (TensorProto tensor : graph.getInitializerList()) {
            refuse(tensor);
        }
        for (SparseTensorProto sparse : graph.getSparseInitializerList()) {
            refuse(sparse.getValues());
            refuse(sparse.getIndices());
        }
        for (NodeProto node : graph.getNodeList()) {
            for (AttributeProto attribute : node.getAttributeList()) {
                if (attribute.hasT()) {
                    refuse(attribute.getT());
                }
            }
        }
    }

    private static void refuse(TensorProto tensor) {
        if (tensor.getDataLocation() == TensorProto.DataLocation.EXTERNAL && !LargeTensor.isLarge(tensor)) {
            throw new CondenseException(ErrorCode.INVALID_EXTERNAL_DATA, "tensor '" + tensor.getName()
                    + "' keeps its data in external file '" + entry(tensor, "location")
                    + "', which cannot be read from bytes alone: load it from its file (OnnxModel.load) with the data file beside it");
        }
    }

    /** The model with every external tensor (initializers, sparse initializers, Constant attributes) read inline. */
    static ModelProto readIn(ModelProto model, Path modelFile) {
        if (!usesExternalData(model)) {
            return model;
        }
        Path folder = modelFile.toAbsolutePath().normalize().getParent();
        try (Reader reader = new Reader(folder)) {
            return replaceExternal(model, reader::inline);
        }
    }

    /**
     * The model with every tensor that keeps its data in an external file (initializers, sparse initializers' values and
     * indices, Constant attributes) replaced by what {@code replace} makes of it; the other tensors are kept as they are.
     */
    static ModelProto replaceExternal(ModelProto model, UnaryOperator<TensorProto> replace) {
        GraphProto.Builder graph = model.getGraph().toBuilder();
        for (int i = 0; i < graph.getInitializerCount(); i++) {
            TensorProto tensor = graph.getInitializer(i);
            if (isExternal(tensor)) {
                graph.setInitializer(i, replace.apply(tensor));
            }
        }
        for (int i = 0; i < graph.getSparseInitializerCount(); i++) {
            SparseTensorProto sparse = graph.getSparseInitializer(i);
            if (isExternal(sparse.getValues()) || isExternal(sparse.getIndices())) {
                SparseTensorProto.Builder builder = sparse.toBuilder();
                if (isExternal(sparse.getValues())) {
                    builder.setValues(replace.apply(sparse.getValues()));
                }
                if (isExternal(sparse.getIndices())) {
                    builder.setIndices(replace.apply(sparse.getIndices()));
                }
                graph.setSparseInitializer(i, builder);
            }
        }
        for (int i = 0; i < graph.getNodeCount(); i++) {
            NodeProto node = graph.getNode(i);
            for (int a = 0; a < node.getAttributeCount(); a++) {
                AttributeProto attribute = node.getAttribute(a);
                if (attribute.hasT() && isExternal(attribute.getT())) {
                    graph.setNode(i, graph.getNode(i).toBuilder().setAttribute(a, attribute.toBuilder().setT(replace.apply(attribute.getT()))));
                }
            }
        }
        return model.toBuilder().setGraph(graph).build();
    }

    private static boolean usesExternalData(ModelProto model) {
        GraphProto graph = model.getGraph();
        for (TensorProto tensor : graph.getInitializerList()) {
            if (isExternal(tensor)) {
                return true;
            }
        }
        for (SparseTensorProto sparse : graph.getSparseInitializerList()) {
            if (isExternal(sparse.getValues()) || isExternal(sparse.getIndices())) {
                return true;
            }
        }
        for (NodeProto node : graph.getNodeList()) {
            for (AttributeProto attribute : node.getAttributeList()) {
                if (attribute.hasT() && isExternal(attribute.getT())) {
                    return true;
                }
            }
        }
        return false;
    }

    static boolean isExternal(TensorProto tensor) {
        return tensor.getDataLocation() == TensorProto.DataLocation.EXTERNAL;
    }

    static String entry(TensorProto tensor, String key) {
        for (StringStringEntryProto entry : tensor.getExternalDataList()) {
            if (entry.getKey().equals(key)) {
                return entry.getValue();
            }
        }
        return null;
    }

    /** Opens each data file once; every location is confined to the model's folder. */
    private static final class Reader implements AutoCloseable {
        private final Path folder;
        private final Map<Path, FileChannel> channels = new HashMap<>();
        private final Set<Path> mappedFiles = new HashSet<>();

        Reader(Path folder) {
            this.folder = folder;
        }

        TensorProto inline(TensorProto tensor) {
            String name = tensor.getName();
            String location = entry(tensor, "location");
            if (location == null || location.isEmpty()) {
                throw error(name, "(none)", "it has no 'location' key");
            }
            Path file = resolve(name, location);
            long offset = number(tensor, "offset", 0);
            long declaredLength = number(tensor, "length", -1);
            FileChannel channel = channel(name, location, file);
            long fileSize;
            try {
                fileSize = channel.size();
            } catch (IOException e) {
                throw error(name, location, "it cannot be read: " + e.getMessage());
            }
            long length = declaredLength;
            if (length < 0) {
                int bits = OnnxTypes.bits(tensor.getDataType());
                long[] shape = new long[tensor.getDimsCount()];
                for (int i = 0; i < shape.length; i++) {
                    shape[i] = tensor.getDims(i);
                }
                length = bits > 0 ? (OnnxTypes.elementCount(name, shape) * bits + 7) / 8 : fileSize - offset;
            }
            if (offset < 0 || offset + length > fileSize) {
                throw error(name, location, "the file holds " + fileSize + " bytes but the tensor needs bytes " + offset + " to "
                        + (offset + length) + " (file truncated or wrong offset)");
            }
            if (length > MAX_TENSOR_BYTES) {
                // more than a ByteString holds: left in its file, with the file's path for LargeTensor and save
                return tensor.toBuilder()
                        .clearExternalData()
                        .addExternalData(StringStringEntryProto.newBuilder().setKey("location").setValue(location))
                        .addExternalData(StringStringEntryProto.newBuilder().setKey("offset").setValue(Long.toString(offset)))
                        .addExternalData(StringStringEntryProto.newBuilder().setKey("length").setValue(Long.toString(length)))
                        .addExternalData(StringStringEntryProto.newBuilder().setKey(LargeTensor.SOURCE_KEY).setValue(file.toString()))
                        .build();
            }
            ByteString data;
            try {
                if (length >= MAP_THRESHOLD) {
                    data = OffHeapBytes.map(channel, offset, length);
                    mappedFiles.add(file);
                } else {
                    data = readSmall(channel, name, location, offset, (int) length);
                }
            } catch (IOException e) {
                throw error(name, location, "it cannot be read: " + e.getMessage());
            }
            return tensor.toBuilder()
                    .clearExternalData()
                    .clearDataLocation()
                    .setRawData(data)
                    .build();
        }

        private static ByteString readSmall(FileChannel channel, String name, String location, long offset, int length) throws IOException {
            byte[] bytes = new byte[length];
            ByteBuffer buffer = ByteBuffer.wrap(bytes);
            long position = offset;
            while (buffer.hasRemaining()) {
                int read = channel.read(buffer, position);
                if (read < 0) {
                    throw error(name, location, "the file ends before byte " + (offset + length));
                }
                position += read;
            }
            return UnsafeByteOperations.unsafeWrap(bytes);
        }

        private Path resolve(String name, String location) {
            Path relative;
            try {
                relative = Path.of(location);
            } catch (InvalidPathException e) {
                throw error(name, location, "it is not a valid path");
            }
            if (relative.isAbsolute() || location.startsWith("/") || location.startsWith("\\") || location.matches("^[A-Za-z]:.*")) {
                throw error(name, location, "it is an absolute path; external data must be a relative path inside the model's folder");
            }
            Path resolved = folder.resolve(relative).normalize();
            if (!resolved.startsWith(folder) || resolved.equals(folder)) {
                throw error(name, location, "it points outside the model's folder " + folder);
            }
            if (!Files.isRegularFile(resolved)) {
                throw error(name, location, "there is no such file at " + resolved + " (data files are looked for relative to the "
                        + "model's folder: put it beside the model, and send the two together as a bundle)");
            }
            try {
                Path real = resolved.toRealPath();
                Path realFolder = folder.toRealPath();
                if (!real.startsWith(realFolder)) {
                    throw error(name, location, "it is a link to " + real + ", outside the model's folder " + realFolder);
                }
                return real;
            } catch (IOException e) {
                throw error(name, location, "it cannot be resolved: " + e.getMessage());
            }
        }

        private FileChannel channel(String name, String location, Path file) {
            FileChannel channel = channels.get(file);
            if (channel == null) {
                try {
                    channel = FileChannel.open(file, StandardOpenOption.READ);
                } catch (IOException e) {
                    throw error(name, location, "it cannot be opened: " + e.getMessage());
                }
                channels.put(file, channel);
            }
            return channel;
        }

        private long number(TensorProto tensor, String key, long fallback) {
            String text = entry(tensor, key);
            if (text == null || text.isEmpty()) {
                return fallback;
            }
            try {
                long value = Long.parseLong(text.trim());
                if (value < 0) {
                    throw error(tensor.getName(), entry(tensor, "location"), "its " + key + " is negative (" + text + ")");
                }
                return value;
            } catch (NumberFormatException e) {
                throw error(tensor.getName(), entry(tensor, "location"), "its " + key + " '" + text + "' is not a number");
            }
        }

        private static CondenseException error(String tensorName, String location, String problem) {
            return new CondenseException(ErrorCode.INVALID_EXTERNAL_DATA, "external data of tensor '" + tensorName + "' at '"
                    + location + "' is unusable: " + problem);
        }

        @Override
        public void close() {
            // channels of mapped tensors stay open (they are mapped again on each use after the garbage collector unmapped
            // them); the others are closed now
            for (Map.Entry<Path, FileChannel> entry : channels.entrySet()) {
                if (!mappedFiles.contains(entry.getKey())) {
                    try {
                        entry.getValue().close();
                    } catch (IOException e) {
                        // read-only channel: nothing was written, so a failing close loses nothing
                    }
                }
            }
        }
    }

    /** Writes the model with every dense initializer of at least {@code threshold} bytes in {@code <file name>.data}. */
    static void save(ModelProto model, Path file, long threshold) {
        Path absolute = file.toAbsolutePath();
        Path folder = absolute.getParent();
        String dataName = absolute.getFileName().toString() + ".data";
        Path dataFile = folder.resolve(dataName);
        GraphProto.Builder graph = model.getGraph().toBuilder();
        try {
            Files.createDirectories(folder);
            FileChannel channel = null;
            Path temporary = null;
            try {
                long offset = 0;
                for (int i = 0; i < graph.getInitializerCount(); i++) {
                    TensorProto tensor = graph.getInitializer(i);
                    boolean large = LargeTensor.isLarge(tensor);
                    ByteString bytes = large ? null : rawBytes(tensor);
                    if (!large && (bytes == null || bytes.isEmpty() || bytes.size() < threshold)) {
                        continue;
                    }
                    if (channel == null) {
                        // a temporary file moved over the old one at the end: the old file may be the memory-mapped
                        // source of these very tensors, and truncating a mapped file crashes its readers
                        temporary = Files.createTempFile(folder, dataName, ".partial");
                        channel = FileChannel.open(temporary, StandardOpenOption.WRITE);
                    }
                    offset = (offset + ALIGNMENT - 1) / ALIGNMENT * ALIGNMENT;
                    long size = large ? LargeTensor.declaredBytes(tensor) : bytes.size();
                    if (large) {
                        LargeTensor.of(tensor).copyTo(channel, offset);
                    } else {
                        long position = offset;
                        for (ByteBuffer buffer : bytes.asReadOnlyByteBufferList()) {
                            while (buffer.hasRemaining()) {
                                position += channel.write(buffer, position);
                            }
                        }
                    }
                    TensorProto.Builder external = TensorProto.newBuilder()
                            .setName(tensor.getName())
                            .setDataType(tensor.getDataType())
                            .addAllDims(tensor.getDimsList())
                            .setDataLocation(TensorProto.DataLocation.EXTERNAL)
                            .addExternalData(StringStringEntryProto.newBuilder().setKey("location").setValue(dataName))
                            .addExternalData(StringStringEntryProto.newBuilder().setKey("offset").setValue(Long.toString(offset)))
                            .addExternalData(StringStringEntryProto.newBuilder().setKey("length").setValue(Long.toString(size)));
                    if (!tensor.getDocString().isEmpty()) {
                        external.setDocString(tensor.getDocString());
                    }
                    graph.setInitializer(i, external);
                    offset += size;
                }
            } catch (IOException | RuntimeException e) {
                if (temporary != null) {
                    Files.deleteIfExists(temporary);
                }
                throw e;
            } finally {
                if (channel != null) {
                    channel.close();
                }
            }
            ModelProto written = model.toBuilder().setGraph(graph).build();
            OnnxModel.checkSerializable(written);
            if (temporary != null) {
                Files.move(temporary, dataFile, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            }
            Path modelTemporary = Files.createTempFile(folder, absolute.getFileName().toString(), ".partial");
            try (OutputStream out = Files.newOutputStream(modelTemporary)) {
                written.writeTo(out);
            } catch (IOException | RuntimeException e) {
                Files.deleteIfExists(modelTemporary);
                throw e;
            }
            Files.move(modelTemporary, absolute, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new CondenseException(ErrorCode.RESOURCE_EXHAUSTED, "cannot write model file " + file + " and its data file "
                    + dataName + ": " + e.getMessage(), e);
        }
    }

    /** A dense initializer's little-endian bytes, or null when it cannot be written as raw bytes (string, unknown type). */
    private static ByteString rawBytes(TensorProto tensor) {
        if (tensor.hasRawData()) {
            return tensor.getRawData();
        }
        if (DataType.isSupported(tensor.getDataType())) {
            return Tensor.fromProto(tensor).rawByteString();
        }
        return null;
    }
}
