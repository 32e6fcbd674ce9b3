package io.condense.server.blob;

import static java.util.Objects.requireNonNull;

import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.DigestOutputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/** One blob being written in chunks: hashed as it goes, published atomically by {@link #commit()}. */
public final class BlobWriter implements AutoCloseable {
    private final BlobStore store;
    private final Path temporaryFile;
    private final long maxBytes;
    private final MessageDigest digest;
    private final OutputStream out;
    private long size;
    private boolean finished;

    BlobWriter(BlobStore store, Path temporaryFile, long maxBytes) throws IOException {
        this.store = requireNonNull(store, "store is null");
        this.temporaryFile = requireNonNull(temporaryFile, "temporaryFile is null");
        this.maxBytes = maxBytes;
        try {
            this.digest = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK has no SHA-256", e);
        }
        this.out = new DigestOutputStream(Files.newOutputStream(temporaryFile), digest);
    }

    public long size() {
        return size;
    }

    public void write(byte[] bytes, int offset, int length) {
        if (finished) {
            throw new IllegalStateException("blob writer already finished");
        }
        if (size + length > maxBytes) {
            abort();
            throw new CondenseException(ErrorCode.RESOURCE_EXHAUSTED, "the upload is larger than the limit of " + maxBytes
                    + " bytes per blob; start the server with a larger --max-blob-bytes");
        }
        try {
            out.write(bytes, offset, length);
            size += length;
        } catch (IOException e) {
            abort();
            throw new CondenseException(ErrorCode.UNAVAILABLE, "cannot write to the blob store: " + e.getMessage(), e);
        }
    }

    /** Finishes the blob and moves it into place; returns its id. */
    public BlobId commit() {
        if (finished) {
            throw new IllegalStateException("blob writer already finished");
        }
        finished = true;
        try {
            out.close();
        } catch (IOException e) {
            deleteQuietly();
            throw new CondenseException(ErrorCode.UNAVAILABLE, "cannot write to the blob store: " + e.getMessage(), e);
        }
        return store.publish(temporaryFile, BlobId.fromDigest(digest.digest()));
    }

    /** Drops what was written; safe to call more than once. */
    public void abort() {
        if (finished) {
            return;
        }
        finished = true;
        try {
            out.close();
        } catch (IOException ignored) {
            // the file is deleted next
        }
        deleteQuietly();
    }

    @Override
    public void close() {
        abort();
    }

    private void deleteQuietly() {
        try {
            Files.deleteIfExists(temporaryFile);
        } catch (IOException ignored) {
            // a leftover temporary file is removed at the next start
        }
    }
}
