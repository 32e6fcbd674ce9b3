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

    /** The writer as a stream (closing the stream leaves the writer open: commit or abort it). */
    public OutputStream asStream() {
        return new OutputStream() {
            @Override
            public void write(int b) {
                BlobWriter.this.write(new byte[] {(byte) b}, 0, 1);
            }

            @Override
            public void write(byte[] bytes, int offset, int length) {
                BlobWriter.this.write(bytes, offset, length);
            }
        };
    }

    /** Finishes the blob and moves it into place; returns its id. */
    public BlobId commit() {
        return publish(finish());
    }

    /**
     * Finishes the blob and moves it into place only when its SHA-256 is {@code expected}; otherwise drops it and throws
     * INVALID_DATA naming both digests ({@code what} says what the bytes are, for the message).
     */
    public BlobId commitExpecting(BlobId expected, String what) {
        BlobId id = finish();
        if (!id.equals(expected)) {
            deleteQuietly();
            throw new CondenseException(ErrorCode.INVALID_DATA, what + " has SHA-256 " + id + " but was announced as " + expected
                    + ": its bytes changed while they were sent or were corrupted on the way; send it again");
        }
        return publish(id);
    }

    private BlobId finish() {
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
        return BlobId.fromDigest(digest.digest());
    }

    private BlobId publish(BlobId id) {
        return store.publish(temporaryFile, id);
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
