package io.condense.server.cli;

import static java.util.Objects.requireNonNull;

import com.google.protobuf.ByteString;
import io.condense.proto.v1.BundleChunk;
import io.condense.proto.v1.BundleData;
import io.condense.proto.v1.BundleFile;
import io.condense.proto.v1.BundleHeader;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.model.ExternalFiles;
import io.condense.server.api.Checksums;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A model file on disk with the external data files it names beside it, ready to send as a bundle (UploadBundle): the
 * header with every file's size and SHA-256, then each file in chunks of at most 1 MiB with offset and CRC32C, read one
 * chunk at a time.
 */
final class LocalBundle {
    private final List<Path> files;
    private final BundleHeader header;

    private LocalBundle(List<Path> files, BundleHeader header) {
        this.files = files;
        this.header = header;
    }

    /**
     * The model with its data files, or empty when it keeps every tensor inline or cannot be read as a model (then it is
     * uploaded as one file).
     *
     * @throws IllegalArgumentException naming the data file, the tensor that names it and where it was looked for, when a
     *         data file the model names is not beside it or its name is unusable
     */
    static Optional<LocalBundle> of(Path model) throws IOException {
        requireNonNull(model, "model is null");
        Map<String, String> locations;
        try {
            locations = ExternalFiles.locations(ExternalFiles.readModelFile(model));
        } catch (CondenseException e) {
            // not a model this command can read: sent as it is, for the server to say what is wrong with it
            return Optional.empty();
        }
        if (locations.isEmpty()) {
            return Optional.empty();
        }
        Path folder = model.toAbsolutePath().normalize().getParent();
        List<Path> files = new ArrayList<>();
        files.add(model);
        BundleHeader.Builder header = BundleHeader.newBuilder().addFiles(describe(model, model.getFileName().toString()));
        for (Map.Entry<String, String> location : locations.entrySet()) {
            String name = location.getKey();
            Optional<String> problem = ExternalFiles.locationProblem(name);
            if (problem.isPresent()) {
                throw new IllegalArgumentException("the model " + model + " keeps tensor '" + location.getValue()
                        + "' in the external data file '" + name + "', which cannot be sent: " + problem.get());
            }
            Path file = folder.resolve(name);
            if (!Files.isRegularFile(file)) {
                throw new IllegalArgumentException("the model " + model + " keeps tensor '" + location.getValue()
                        + "' in the external data file '" + name
                        + "', which is not at " + file + ": put the data file beside the model (ONNX looks for data files "
                        + "relative to the model's folder)");
            }
            files.add(file);
            header.addFiles(describe(file, name));
        }
        return Optional.of(new LocalBundle(files, header.build()));
    }

    BundleHeader header() {
        return header;
    }

    long totalBytes() {
        return header.getFilesList().stream().mapToLong(BundleFile::getSize).sum();
    }

    /** The header, then every file's chunks; a file that changed size since the header was made is an error. */
    ChunkStreams.Messages<BundleChunk> messages() {
        byte[] buffer = new byte[ChunkStreams.SEND_BYTES];
        return new ChunkStreams.Messages<>() {
            private boolean headerSent;
            private int file;
            private long offset;
            private InputStream in;

            @Override
            public BundleChunk next() throws IOException {
                if (!headerSent) {
                    headerSent = true;
                    return BundleChunk.newBuilder().setHeader(header).build();
                }
                while (file < files.size()) {
                    if (in == null) {
                        in = Files.newInputStream(files.get(file));
                        offset = 0;
                    }
                    int read = in.readNBytes(buffer, 0, buffer.length);
                    if (read > 0) {
                        BundleChunk chunk = BundleChunk.newBuilder().setData(BundleData.newBuilder().setFile(file).setOffset(offset)
                                .setData(ByteString.copyFrom(buffer, 0, read)).setCrc32C(Checksums.crc32c(buffer, 0, read))).build();
                        offset += read;
                        return chunk;
                    }
                    in.close();
                    in = null;
                    file++;
                }
                return null;
            }
        };
    }

    private static BundleFile describe(Path file, String name) throws IOException {
        MessageDigest digest;
        try {
            digest = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK has no SHA-256", e);
        }
        long size;
        try (InputStream in = new DigestInputStream(Files.newInputStream(file), digest)) {
            size = in.transferTo(java.io.OutputStream.nullOutputStream());
        }
        return BundleFile.newBuilder().setName(name).setSize(size).setSha256(HexFormat.of().formatHex(digest.digest())).build();
    }
}
