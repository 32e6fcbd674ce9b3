package io.condense.server.blob;

import static java.util.Objects.requireNonNull;

import com.google.protobuf.InvalidProtocolBufferException;
import io.condense.proto.v1.BundleFile;
import io.condense.proto.v1.BundleHeader;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.model.OnnxModel;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Optional;

/**
 * Models kept with external data files in the blob store: each file (the ONNX model file and every data file it names) is
 * a blob of its own, and a small manifest blob (a magic line, then the {@link BundleHeader}: names, sizes and SHA-256 ids)
 * ties them together. The manifest's id is the model id jobs and steps pass around; a model without external data stays
 * one plain blob. Steps get a bundle as files in a folder (hard links to the stored blobs, so nothing is copied) and load
 * it with the SDK, which memory-maps its tensors one by one; they store a large result the same way, file by file.
 */
public final class ModelBundles {
    /** The first bytes of a manifest blob; no ONNX file starts so (0x63 is a deprecated protobuf group tag). */
    static final byte[] MAGIC = "condense-bundle\n".getBytes(StandardCharsets.US_ASCII);
    /** The file name of a model in a step's folder. */
    public static final String MODEL_FILE = "model.onnx";
    /** Manifests are small; a blob larger than this is never read as one. */
    private static final long MAX_MANIFEST_BYTES = 1 << 20;

    private final BlobStore blobs;

    public ModelBundles(BlobStore blobs) {
        this.blobs = requireNonNull(blobs, "blobs is null");
    }

    public BlobStore blobs() {
        return blobs;
    }

    /** The manifest of a bundle, or empty when the blob is a plain model (or any other blob). */
    public Optional<BundleHeader> manifest(BlobId id) {
        if (blobs.size(id) > MAX_MANIFEST_BYTES) {
            return Optional.empty();
        }
        try (InputStream in = blobs.open(id)) {
            byte[] start = in.readNBytes(MAGIC.length);
            if (!Arrays.equals(start, MAGIC)) {
                return Optional.empty();
            }
            return Optional.of(BundleHeader.parseFrom(in));
        } catch (InvalidProtocolBufferException e) {
            throw new CondenseException(ErrorCode.INTERNAL_ERROR, "the bundle manifest " + id + " is damaged: " + e.getMessage(), e);
        } catch (IOException e) {
            throw new CondenseException(ErrorCode.UNAVAILABLE, "cannot read blob " + id + ": " + e.getMessage(), e);
        }
    }

    /** The bytes of a model: its file and data files for a bundle, the blob's size otherwise. */
    public long modelBytes(BlobId id) {
        return manifest(id).map(ModelBundles::totalBytes).orElseGet(() -> blobs.size(id));
    }

    public static long totalBytes(BundleHeader manifest) {
        return manifest.getFilesList().stream().mapToLong(BundleFile::getSize).sum();
    }

    /** Stores the manifest of files already stored (each file's sha256 is its blob id); returns the bundle's id. */
    public BlobId storeManifest(BundleHeader manifest) {
        for (BundleFile file : manifest.getFilesList()) {
            blobs.requireStored(BlobId.of(file.getSha256()));
        }
        byte[] body = manifest.toByteArray();
        byte[] bytes = Arrays.copyOf(MAGIC, MAGIC.length + body.length);
        System.arraycopy(body, 0, bytes, MAGIC.length, body.length);
        return blobs.put(bytes);
    }

    /** Records that a tenant holds a bundle: its manifest and every file in it. */
    public void grant(String tenant, BlobId id) {
        blobs.grant(tenant, id);
        manifest(id).ifPresent(manifest -> manifest.getFilesList().forEach(file -> blobs.grant(tenant, BlobId.of(file.getSha256()))));
    }

    /**
     * Puts a stored model into {@code folder} as files a loader can read: a bundle's model file as {@value #MODEL_FILE}
     * with its data files beside it under the names the model gives them, a plain model as {@value #MODEL_FILE} alone.
     * Files are hard links to the stored blobs where the file system allows, else copies. Returns the model file.
     */
    public Path materialize(BlobId id, Path folder) {
        Optional<BundleHeader> manifest = manifest(id);
        try {
            Files.createDirectories(folder);
            Path model = folder.resolve(MODEL_FILE);
            if (manifest.isEmpty()) {
                place(id, model);
                return model;
            }
            var files = manifest.get().getFilesList();
            place(BlobId.of(files.get(0).getSha256()), model);
            for (BundleFile file : files.subList(1, files.size())) {
                Path target = folder.resolve(file.getName()).normalize();
                if (!target.startsWith(folder) || target.equals(model)) {
                    throw new CondenseException(ErrorCode.INVALID_EXTERNAL_DATA, "the bundle " + id + " names a data file '"
                            + file.getName() + "' outside its model's folder or over the model file");
                }
                Files.createDirectories(target.getParent());
                place(BlobId.of(file.getSha256()), target);
            }
            return model;
        } catch (IOException e) {
            throw new CondenseException(ErrorCode.UNAVAILABLE, "cannot put model " + id + " into " + folder + ": " + e.getMessage(), e);
        }
    }

    private void place(BlobId id, Path target) throws IOException {
        Path stored = blobs.require(id);
        try {
            Files.createLink(target, stored);
        } catch (FileSystemException | UnsupportedOperationException e) {
            // another file system (or one without hard links): a copy, streamed
            Files.copy(stored, target);
        }
    }

    /**
     * Stores a model a step made. A model that was given as a bundle, or that does not fit one protobuf message, is saved
     * into {@code folder} with every tensor of at least {@link OnnxModel#LARGE_MODEL_THRESHOLD} bytes in a data file
     * (tensor by tensor) and stored as a bundle; any other is stored as one plain blob.
     */
    public Stored store(OnnxModel model, boolean asBundle, Path folder) {
        requireNonNull(model, "model is null");
        if (!asBundle && model.fitsInline()) {
            byte[] bytes = model.toBytes();
            return new Stored(blobs.put(bytes), bytes.length);
        }
        try {
            Files.createDirectories(folder);
            Path file = folder.resolve(MODEL_FILE);
            model.save(file, OnnxModel.LARGE_MODEL_THRESHOLD);
            BundleHeader.Builder manifest = BundleHeader.newBuilder().addFiles(storeFile(file, file.getFileName().toString()));
            Path data = folder.resolve(MODEL_FILE + ".data");
            if (Files.exists(data)) {
                manifest.addFiles(storeFile(data, data.getFileName().toString()));
            }
            BundleHeader built = manifest.build();
            return new Stored(storeManifest(built), totalBytes(built));
        } catch (IOException e) {
            throw new CondenseException(ErrorCode.UNAVAILABLE, "cannot store a model with external data from " + folder + ": "
                    + e.getMessage(), e);
        }
    }

    private BundleFile storeFile(Path file, String name) throws IOException {
        BlobWriter writer = blobs.newWriter();
        try (InputStream in = Files.newInputStream(file); OutputStream out = writer.asStream()) {
            in.transferTo(out);
            long size = writer.size();
            return BundleFile.newBuilder().setName(name).setSize(size).setSha256(writer.commit().hex()).build();
        } finally {
            writer.abort();
        }
    }

    /** A stored model: its id and its bytes (all files of a bundle). */
    public record Stored(BlobId id, long bytes) {
    }
}
