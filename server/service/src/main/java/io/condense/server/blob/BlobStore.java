package io.condense.server.blob;

import static java.util.Objects.requireNonNull;

import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * Content-addressed blobs (SHA-256 ids). A blob is written to a temporary file under the data folder, hashed as it
 * streams, and handed to the backend only once complete, so a reader never sees a partial blob; writing bytes that are
 * already stored keeps one copy. The backend is a folder ({@code DATA/blobs}, the default) or an S3 bucket
 * ({@code --blob-store s3://bucket/prefix}, shared by processes on different machines).
 */
public final class BlobStore implements AutoCloseable {
    private final Path temporary;
    private final long maxBlobBytes;
    private final BlobBackend backend;
    /** Where uploads' chunks are hashed while their writers write them (BlobWriter); threads end after a minute idle. */
    private final ExecutorService hashing = Executors.newCachedThreadPool(runnable -> {
        Thread thread = new Thread(runnable, "blob-hash");
        thread.setDaemon(true);
        return thread;
    });

    /** Blobs in a folder: {@code <root>/<first two hex digits>/<id>}. */
    public BlobStore(Path root, long maxBlobBytes) {
        this(root, maxBlobBytes, new LocalBlobs(root));
    }

    private BlobStore(Path root, long maxBlobBytes, BlobBackend backend) {
        requireNonNull(root, "root is null");
        if (maxBlobBytes <= 0) {
            throw new IllegalArgumentException("maxBlobBytes must be positive: " + maxBlobBytes);
        }
        this.maxBlobBytes = maxBlobBytes;
        this.backend = requireNonNull(backend, "backend is null");
        this.temporary = root.resolve("tmp");
        try {
            Files.createDirectories(temporary);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create the blob store folder " + root, e);
        }
        cleanTemporaryFiles();
    }

    /** Blobs in an S3 bucket; {@code root} holds the temporary files of uploads and a cache of blobs read as files. */
    public static BlobStore s3(S3Location location, Path root, long maxBlobBytes) {
        return new BlobStore(root, maxBlobBytes, new S3Blobs(location, root.resolve("s3-cache")));
    }

    public long maxBlobBytes() {
        return maxBlobBytes;
    }

    /** Where the blobs are (a folder, or s3://bucket/prefix). */
    public String location() {
        return backend.location();
    }

    /** Starts writing a new blob; close the writer with {@link BlobWriter#commit()} or {@link BlobWriter#abort()}. */
    public BlobWriter newWriter() {
        try {
            Path file = Files.createTempFile(temporary, "upload-", ".part");
            return new BlobWriter(this, file, maxBlobBytes, hashing);
        } catch (IOException e) {
            throw new CondenseException(ErrorCode.UNAVAILABLE, "cannot create a temporary file in the blob store " + temporary + ": " + e.getMessage(), e);
        }
    }

    /** A new empty folder for temporary files (a bundle being checked), removed with the others at the next start. */
    public Path newTemporaryFolder() {
        try {
            return Files.createTempDirectory(temporary, "folder-");
        } catch (IOException e) {
            throw new CondenseException(ErrorCode.UNAVAILABLE, "cannot create a temporary folder in the blob store " + temporary + ": " + e.getMessage(), e);
        }
    }

    /** Stores bytes and returns their id. */
    public BlobId put(byte[] bytes) {
        return put(out -> out.write(bytes, 0, bytes.length));
    }

    /** Stores what {@code content} writes and returns its id (a model serialised straight into the store, no array of it). */
    public BlobId put(Content content) {
        BlobWriter writer = newWriter();
        try {
            content.writeTo(writer.asStream());
            return writer.commit();
        } catch (IOException e) {
            writer.abort();
            throw new CondenseException(ErrorCode.UNAVAILABLE, "cannot write a blob: " + e.getMessage(), e);
        } catch (RuntimeException e) {
            writer.abort();
            throw e;
        }
    }

    /** What {@link #put(Content)} stores. */
    @FunctionalInterface
    public interface Content {
        void writeTo(OutputStream out) throws IOException;
    }

    public boolean contains(BlobId id) {
        return backend.contains(id);
    }

    /** The size of a stored blob; NOT_FOUND when absent. */
    public long size(BlobId id) {
        return backend.size(id);
    }

    /** Reads a whole blob into memory (models are handed to techniques in memory). */
    public byte[] read(BlobId id) {
        long size = backend.size(id);
        if (size > Integer.MAX_VALUE - 16) {
            throw new CondenseException(ErrorCode.RESOURCE_EXHAUSTED, "blob " + id + " is " + size
                    + " bytes, more than can be held in memory at once (2 GiB); store large weights as ONNX external data");
        }
        try (InputStream in = backend.open(id)) {
            // the size is known: one array of it, filled in place (readAllBytes and readNBytes(n) gather the bytes in
            // buffers of their own and copy them into a last array)
            byte[] bytes = new byte[(int) size];
            if (in.readNBytes(bytes, 0, bytes.length) != size || in.read() != -1) {
                throw new IOException("it changed size while being read (" + size + " bytes expected)");
            }
            return bytes;
        } catch (IOException e) {
            throw new CondenseException(ErrorCode.UNAVAILABLE, "cannot read blob " + id + ": " + e.getMessage(), e);
        }
    }

    /** Opens a stored blob for streaming. */
    public InputStream open(BlobId id) {
        return backend.open(id);
    }

    /** NOT_FOUND unless the blob is stored (without reading it). */
    public void requireStored(BlobId id) {
        if (!backend.contains(id)) {
            throw notStored(id);
        }
    }

    /** A local file of a stored blob, for readers that want a path; NOT_FOUND when absent. Never modify it. */
    public Path require(BlobId id) {
        return backend.file(id);
    }

    /**
     * Records that a tenant holds a blob (it uploaded the bytes, or a step of its job wrote them); nothing for the shared
     * tenant "" of a server without tokens. Content-addressed bytes uploaded by two tenants are held by both.
     */
    public void grant(String tenant, BlobId id) {
        if (tenant.isEmpty()) {
            return;
        }
        backend.grant(tenant, id, backend.size(id));
    }

    /** Whether a tenant holds a blob; every blob is the shared tenant's (""). */
    public boolean owns(String tenant, BlobId id) {
        return tenant.isEmpty() || backend.owns(tenant, id);
    }

    /**
     * The bytes of every blob a tenant holds (what it uploaded and what its jobs and channels wrote): what its
     * {@code stored=} limit counts. Read from the backend each time, so every API instance sees the others' uploads.
     */
    public long storedBytes(String tenant) {
        return tenant.isEmpty() ? 0 : backend.storedBytes(tenant);
    }

    /** Every stored blob, with its size and when it was last stored. */
    public List<StoredBlob> list() {
        return backend.list();
    }

    /** Removes a stored blob and every tenant's hold on it (the garbage collection). */
    public void delete(BlobId id) {
        backend.delete(id);
    }

    /** Moves a complete, hashed temporary file into place. */
    BlobId publish(Path temporaryFile, BlobId id) {
        backend.store(temporaryFile, id);
        return id;
    }

    static CondenseException notStored(BlobId id) {
        return new CondenseException(ErrorCode.NOT_FOUND, "no blob with id " + id + " is stored; upload it first with UploadModel");
    }

    static String checkTenant(String tenant) {
        if (!tenant.matches("[A-Za-z0-9][A-Za-z0-9._-]{0,63}")) {
            throw new IllegalArgumentException("not a tenant name: " + tenant);
        }
        return tenant;
    }

    private void cleanTemporaryFiles() {
        try (var files = Files.list(temporary)) {
            for (Path file : (Iterable<Path>) files::iterator) {
                io.condense.server.Folders.deleteRecursively(file);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot clean the blob store's temporary folder " + temporary, e);
        }
    }

    @Override
    public void close() {
        hashing.shutdown();
        backend.close();
    }
}
