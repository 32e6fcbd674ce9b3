package io.condense.server.blob;

import static java.util.Objects.requireNonNull;

import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * Content-addressed blobs on the filesystem: {@code <root>/<first two hex digits>/<id>}. A blob is
 * written to a temporary file and renamed into place only once complete and hashed, so a reader never
 * sees a partial blob; writing bytes that are already stored keeps the stored copy.
 */
public final class BlobStore {
    private final Path root;
    private final Path temporary;
    private final long maxBlobBytes;

    public BlobStore(Path root, long maxBlobBytes) {
        this.root = requireNonNull(root, "root is null");
        if (maxBlobBytes <= 0) {
            throw new IllegalArgumentException("maxBlobBytes must be positive: " + maxBlobBytes);
        }
        this.maxBlobBytes = maxBlobBytes;
        this.temporary = root.resolve("tmp");
        try {
            Files.createDirectories(temporary);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create the blob store folder " + root, e);
        }
        cleanTemporaryFiles();
    }

    public long maxBlobBytes() {
        return maxBlobBytes;
    }

    /** Starts writing a new blob; close the writer with {@link BlobWriter#commit()} or {@link BlobWriter#abort()}. */
    public BlobWriter newWriter() {
        try {
            Path file = Files.createTempFile(temporary, "upload-", ".part");
            return new BlobWriter(this, file, maxBlobBytes);
        } catch (IOException e) {
            throw new CondenseException(ErrorCode.UNAVAILABLE, "cannot create a temporary file in the blob store " + temporary + ": " + e.getMessage(), e);
        }
    }

    /** Stores bytes and returns their id. */
    public BlobId put(byte[] bytes) {
        BlobWriter writer = newWriter();
        try {
            writer.write(bytes, 0, bytes.length);
            return writer.commit();
        } catch (RuntimeException e) {
            writer.abort();
            throw e;
        }
    }

    public boolean contains(BlobId id) {
        return Files.isRegularFile(path(id));
    }

    /** The size of a stored blob; NOT_FOUND when absent. */
    public long size(BlobId id) {
        try {
            return Files.size(require(id));
        } catch (IOException e) {
            throw new CondenseException(ErrorCode.UNAVAILABLE, "cannot read blob " + id + ": " + e.getMessage(), e);
        }
    }

    /** Reads a whole blob into memory (models are handed to techniques in memory). */
    public byte[] read(BlobId id) {
        Path file = require(id);
        try {
            long size = Files.size(file);
            if (size > Integer.MAX_VALUE - 16) {
                throw new CondenseException(ErrorCode.RESOURCE_EXHAUSTED, "blob " + id + " is " + size
                        + " bytes, more than can be held in memory at once (2 GiB); store large weights as ONNX external data");
            }
            return Files.readAllBytes(file);
        } catch (IOException e) {
            throw new CondenseException(ErrorCode.UNAVAILABLE, "cannot read blob " + id + ": " + e.getMessage(), e);
        }
    }

    /** Opens a stored blob for streaming. */
    public InputStream open(BlobId id) {
        Path file = require(id);
        try {
            return Files.newInputStream(file);
        } catch (IOException e) {
            throw new CondenseException(ErrorCode.UNAVAILABLE, "cannot read blob " + id + ": " + e.getMessage(), e);
        }
    }

    /** The file of a stored blob, for readers that want a path; NOT_FOUND when absent. Never modify it. */
    public Path require(BlobId id) {
        Path file = path(id);
        if (!Files.isRegularFile(file)) {
            throw new CondenseException(ErrorCode.NOT_FOUND, "no blob with id " + id + " is stored; upload it first with UploadModel");
        }
        return file;
    }

    /**
     * Records that a tenant holds a blob (it uploaded the bytes, or a step of its job wrote them); nothing for the shared
     * tenant "" of a server without tokens. Content-addressed bytes uploaded by two tenants are held by both.
     */
    public void grant(String tenant, BlobId id) {
        if (tenant.isEmpty()) {
            return;
        }
        Path marker = ownerMarker(tenant, id);
        try {
            Files.createDirectories(marker.getParent());
            if (!Files.exists(marker)) {
                Files.createFile(marker);
            }
        } catch (FileAlreadyExistsException e) {
            // another call recorded it first
        } catch (IOException e) {
            throw new CondenseException(ErrorCode.UNAVAILABLE, "cannot record the owner of blob " + id + ": " + e.getMessage(), e);
        }
    }

    /** Whether a tenant holds a blob; every blob is the shared tenant's (""). */
    public boolean owns(String tenant, BlobId id) {
        return tenant.isEmpty() || Files.exists(ownerMarker(tenant, id));
    }

    /**
     * The bytes of every blob a tenant holds (what it uploaded and what its jobs wrote), from its owner markers: what
     * its {@code stored=} limit counts. Reads the folder each time, so every API instance sees the others' uploads.
     */
    public long storedBytes(String tenant) {
        if (tenant.isEmpty()) {
            return 0;
        }
        Path folder = ownersFolder(tenant);
        if (!Files.isDirectory(folder)) {
            return 0;
        }
        try (var markers = Files.list(folder)) {
            return markers.mapToLong(marker -> {
                try {
                    return Files.size(path(BlobId.of(marker.getFileName().toString())));
                } catch (IOException | CondenseException e) {
                    return 0; // a marker of a blob no longer stored, or not a marker
                }
            }).sum();
        } catch (IOException e) {
            throw new CondenseException(ErrorCode.UNAVAILABLE, "cannot read the blobs tenant " + tenant + " holds: " + e.getMessage(), e);
        }
    }

    private Path ownerMarker(String tenant, BlobId id) {
        return ownersFolder(tenant).resolve(id.hex());
    }

    private Path ownersFolder(String tenant) {
        if (!tenant.matches("[A-Za-z0-9][A-Za-z0-9._-]{0,63}")) {
            throw new IllegalArgumentException("not a tenant name: " + tenant);
        }
        return root.resolve("owners").resolve(tenant);
    }

    Path path(BlobId id) {
        return root.resolve(id.hex().substring(0, 2)).resolve(id.hex());
    }

    /** Moves a complete, hashed temporary file into place. */
    BlobId publish(Path temporaryFile, BlobId id) {
        Path target = path(id);
        try {
            if (Files.exists(target)) {
                Files.deleteIfExists(temporaryFile);
                return id;
            }
            Files.createDirectories(target.getParent());
            try {
                Files.move(temporaryFile, target, StandardCopyOption.ATOMIC_MOVE);
            } catch (FileAlreadyExistsException e) {
                Files.deleteIfExists(temporaryFile);
            } catch (AtomicMoveNotSupportedException e) {
                throw new CondenseException(ErrorCode.INTERNAL_ERROR, "the blob store folder " + root
                        + " does not support atomic renames; use a local or POSIX shared filesystem", e);
            }
            return id;
        } catch (IOException e) {
            throw new CondenseException(ErrorCode.UNAVAILABLE, "cannot store blob " + id + ": " + e.getMessage(), e);
        }
    }

    private void cleanTemporaryFiles() {
        try (var files = Files.list(temporary)) {
            for (Path file : (Iterable<Path>) files::iterator) {
                Files.deleteIfExists(file);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot clean the blob store's temporary folder " + temporary, e);
        }
    }
}
