package io.condense.server.blob;

import java.io.InputStream;
import java.nio.file.Path;
import java.util.List;

/**
 * Where complete blobs and their owners live: a local (or shared POSIX) folder ({@link LocalBlobs}) or an S3 bucket
 * ({@link S3Blobs}). {@link BlobStore} writes every blob to a local temporary file first (hashed as it streams) and
 * hands the complete file over with {@link #store}.
 */
interface BlobBackend extends AutoCloseable {

    boolean contains(BlobId id);

    /** The size of a stored blob; NOT_FOUND when absent. */
    long size(BlobId id);

    /** Streams a stored blob; NOT_FOUND when absent. */
    InputStream open(BlobId id);

    /** A local file holding the blob (for readers that want a path); NOT_FOUND when absent. Never modify it. */
    Path file(BlobId id);

    /** Stores a complete, hashed file under its id (taking it over); storing bytes already stored refreshes their time. */
    void store(Path completeFile, BlobId id);

    /** Records that a tenant holds a stored blob of this size. */
    void grant(String tenant, BlobId id, long size);

    boolean owns(String tenant, BlobId id);

    /** The bytes of every stored blob a tenant holds. */
    long storedBytes(String tenant);

    /** Every stored blob. */
    List<StoredBlob> list();

    /** Removes a blob and every tenant's record of it. */
    void delete(BlobId id);

    /** Where the blobs are, for messages. */
    String location();

    @Override
    default void close() {
    }
}
