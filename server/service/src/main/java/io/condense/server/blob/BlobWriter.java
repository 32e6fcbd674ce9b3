package io.condense.server.blob;

import static java.util.Objects.requireNonNull;

import com.google.protobuf.ByteString;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayDeque;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;

/**
 * One blob being written in chunks: hashed as it goes, published atomically by {@link #commit()}.
 *
 * <p>Chunks given as {@link ByteString}s (an upload's, immutable) are hashed on the store's hashing threads while the
 * caller writes them to the file: SHA-256 and writing new file pages each cost about as much as the other (0.6 and 0.3-1.5
 * ms per MB here), and the caller is the thread the upload's next chunks wait for. At most {@link #HASH_BACKLOG_BYTES} wait
 * to be hashed. Chunks given as arrays (which the caller may reuse) are hashed at once, after those before them.
 */
public final class BlobWriter implements AutoCloseable {
    /** The most bytes written but not yet hashed: then the writer waits for the hashing to catch up. */
    static final long HASH_BACKLOG_BYTES = 8L << 20;

    private final BlobStore store;
    private final Path temporaryFile;
    private final long maxBytes;
    private final MessageDigest digest;
    private final FileChannel out;
    private final Executor hashing;
    /** Hashing work in order, each with its byte count; only the writer's thread touches the queue. */
    private final ArrayDeque<Pending> backlog = new ArrayDeque<>();
    private CompletableFuture<Void> lastHashed = CompletableFuture.completedFuture(null);
    private long backlogBytes;
    private long size;
    private boolean finished;

    private record Pending(CompletableFuture<Void> hashed, long bytes) {
    }

    BlobWriter(BlobStore store, Path temporaryFile, long maxBytes, Executor hashing) throws IOException {
        this.store = requireNonNull(store, "store is null");
        this.temporaryFile = requireNonNull(temporaryFile, "temporaryFile is null");
        this.maxBytes = maxBytes;
        this.hashing = requireNonNull(hashing, "hashing is null");
        try {
            this.digest = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK has no SHA-256", e);
        }
        this.out = FileChannel.open(temporaryFile, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING);
    }

    public long size() {
        return size;
    }

    public void write(byte[] bytes, int offset, int length) {
        accept(length);
        writeOut(List.of(ByteBuffer.wrap(bytes, offset, length)));
        // the caller may reuse the array once this returns: hash it now, after what is queued
        awaitHashed(0);
        digest.update(bytes, offset, length);
        size += length;
    }

    /** Writes an immutable chunk; its hashing may go on after this returns (see the class comment). */
    public void write(ByteString bytes) {
        int length = bytes.size();
        accept(length);
        writeOut(bytes.asReadOnlyByteBufferList());
        size += length;
        awaitHashed(HASH_BACKLOG_BYTES - length);
        lastHashed = lastHashed.thenRunAsync(() -> {
            for (ByteBuffer buffer : bytes.asReadOnlyByteBufferList()) {
                digest.update(buffer);
            }
        }, hashing);
        backlog.add(new Pending(lastHashed, length));
        backlogBytes += length;
    }

    private void accept(int length) {
        if (finished) {
            throw new IllegalStateException("blob writer already finished");
        }
        if (size + length > maxBytes) {
            abort();
            throw new CondenseException(ErrorCode.RESOURCE_EXHAUSTED, "the upload is larger than the limit of " + maxBytes
                    + " bytes per blob; start the server with a larger --max-blob-bytes");
        }
    }

    /** Writes the buffers to the file; when that fails, drops the blob and throws UNAVAILABLE. */
    private void writeOut(Iterable<ByteBuffer> buffers) {
        try {
            for (ByteBuffer buffer : buffers) {
                while (buffer.hasRemaining()) {
                    out.write(buffer);
                }
            }
        } catch (IOException e) {
            abort();
            throw new CondenseException(ErrorCode.UNAVAILABLE, "cannot write to the blob store: " + e.getMessage(), e);
        }
    }

    /** Waits until at most {@code bytes} wait to be hashed. */
    private void awaitHashed(long bytes) {
        while (backlogBytes > Math.max(0, bytes)) {
            Pending oldest = backlog.remove();
            oldest.hashed().join();
            backlogBytes -= oldest.bytes();
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
        awaitHashed(0);
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
        // the hashing threads may still read queued chunks; nothing waits for them or uses the digest again
        backlog.clear();
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
