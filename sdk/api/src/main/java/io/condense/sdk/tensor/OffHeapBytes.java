package io.condense.sdk.tensor;

import static java.util.Objects.requireNonNull;

import com.google.protobuf.ByteString;
import com.google.protobuf.MappedByteString;
import com.google.protobuf.UnsafeByteOperations;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Tensor bytes kept out of the Java heap: a read-only memory-mapped region of a file, seen as a protobuf
 * {@link ByteString} (which wraps it without copying), so that a model's large tensors cost page cache the kernel
 * can drop and write back, not heap. Models loaded with external data map their tensors this way; a technique
 * that writes large new tensors {@link #spill spills} them so that the heap holds one tensor at a time.
 */
public final class OffHeapBytes {
    /** Folder for spilled tensors (system property {@value}); the JVM's temporary folder by default. */
    public static final String SPILL_FOLDER_PROPERTY = "condense.spill.dir";

    private OffHeapBytes() {
    }

    /**
     * {@code length} bytes of an open file from {@code offset}, mapped read-only whenever they are used and unmapped by
     * the garbage collector once nothing uses them (so a model's tensors count in its process's resident memory only
     * while a technique reads them). The channel must stay open while the bytes are used: leave it to the garbage
     * collector.
     */
    public static ByteString map(FileChannel channel, long offset, long length) {
        requireNonNull(channel, "channel is null");
        return MappedByteString.ofRegion(channel, offset, length);
    }

    /**
     * Writes the buffers' remaining bytes to a new file in the spill folder, maps it and deletes its name (the mapping
     * keeps the data until it is garbage collected; nothing is left on disk when the process ends).
     */
    public static ByteString spill(ByteBuffer... parts) {
        requireNonNull(parts, "parts is null");
        Path folder = Path.of(System.getProperty(SPILL_FOLDER_PROPERTY, System.getProperty("java.io.tmpdir")));
        Path file = null;
        try {
            Files.createDirectories(folder);
            file = Files.createTempFile(folder, "condense-tensor-", ".bin");
            // left open for the mapped string: the name is deleted below, the data lives until the channel is collected
            FileChannel channel = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE);
            long length = 0;
            for (ByteBuffer part : parts) {
                ByteBuffer view = part.duplicate();
                while (view.hasRemaining()) {
                    length += channel.write(view, length);
                }
            }
            return map(channel, 0, length);
        } catch (IOException e) {
            throw new CondenseException(ErrorCode.RESOURCE_EXHAUSTED, "cannot spill a tensor to " + folder + " (set -D"
                    + SPILL_FOLDER_PROPERTY + " to a folder with free space): " + e.getMessage(), e);
        } finally {
            if (file != null) {
                try {
                    Files.deleteIfExists(file);
                } catch (IOException e) {
                    // the mapping holds the data; a name left behind only costs disk until the folder is cleaned
                }
            }
        }
    }

    /** The bytes as given when smaller than {@code threshold}, else {@link #spill spilled} out of the heap. */
    public static ByteString spillIfLarge(byte[] bytes, long threshold) {
        requireNonNull(bytes, "bytes is null");
        return bytes.length < threshold ? UnsafeByteOperations.unsafeWrap(bytes) : spill(ByteBuffer.wrap(bytes));
    }
}
