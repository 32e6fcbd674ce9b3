package com.google.protobuf;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.lang.ref.WeakReference;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.Charset;
import java.util.List;
import java.util.Objects;

/**
 * A {@link ByteString} over a region of a file, memory-mapped when used, never copied into the heap.
 *
 * <p>Written by hand, and in protobuf's package, because protobuf-java 4 no longer has one: its {@code NioByteString}
 * was removed and {@code UnsafeByteOperations.unsafeWrap(ByteBuffer)} now copies a direct buffer into a byte array,
 * which would put every memory-mapped tensor of a model over 2 GiB in the heap. {@code ByteString}'s constructor is
 * package-private, so a subclass must live here. Condense creates these only through
 * {@code io.condense.sdk.tensor.OffHeapBytes}; a tensor's bytes are never concatenated (a rope of these would not
 * compare piecewise), only read, sliced and written.
 */
public final class MappedByteString extends ByteString {
    private static final long serialVersionUID = 1L;
    private static final int COPY_CHUNK = 64 * 1024;

    private final transient FileChannel channel;
    private final long offset;
    private final int length;
    /**
     * The current mapping, while anything uses it: once every view of it is gone the garbage collector unmaps it, and
     * its pages stop counting in the process's resident memory; the next use maps the region again (a system call, no
     * read).
     */
    private transient volatile WeakReference<ByteBuffer> mapping;

    private MappedByteString(FileChannel channel, long offset, int length) {
        this.channel = channel;
        this.offset = offset;
        this.length = length;
    }

    /**
     * The bytes of a file region, mapped read-only on use. The channel must stay open for as long as the string is used
     * (it may belong to a file already deleted or replaced: an open channel still reads the data it was opened on).
     */
    public static ByteString ofRegion(FileChannel channel, long offset, long length) {
        Objects.requireNonNull(channel, "channel is null");
        if (length < 0 || length > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("a region holds 0 to 2 GiB, asked for " + length + " bytes");
        }
        return length == 0 ? ByteString.EMPTY : new MappedByteString(channel, offset, (int) length);
    }

    private ByteBuffer buffer() {
        WeakReference<ByteBuffer> current = mapping;
        ByteBuffer buffer = current == null ? null : current.get();
        if (buffer == null) {
            try {
                buffer = channel.map(FileChannel.MapMode.READ_ONLY, offset, length).asReadOnlyBuffer();
            } catch (IOException e) {
                throw new UncheckedIOException("cannot map " + length + " bytes at " + offset + " of a tensor data file: "
                        + e.getMessage(), e);
            }
            mapping = new WeakReference<>(buffer);
        }
        return buffer;
    }

    @Override
    public byte byteAt(int index) {
        Objects.checkIndex(index, size());
        return buffer().get(index);
    }

    @Override
    byte internalByteAt(int index) {
        return buffer().get(index);
    }

    @Override
    public int size() {
        return length;
    }

    @Override
    public ByteString substring(int beginIndex, int endIndex) {
        checkRange(beginIndex, endIndex, size());
        if (beginIndex == 0 && endIndex == size()) {
            return this;
        }
        return beginIndex == endIndex ? ByteString.EMPTY : new MappedByteString(channel, offset + beginIndex, endIndex - beginIndex);
    }

    @Override
    public ByteString substringNoCopy(int beginIndex, int endIndex) {
        return substring(beginIndex, endIndex);
    }

    @Override
    protected void copyToInternal(byte[] target, int sourceOffset, int targetOffset, int numberToCopy) {
        ByteBuffer view = buffer().duplicate();
        view.position(sourceOffset);
        view.get(target, targetOffset, numberToCopy);
    }

    @Override
    public void copyTo(ByteBuffer target) {
        target.put(buffer().duplicate());
    }

    @Override
    public void writeTo(OutputStream out) throws IOException {
        writeToInternal(out, 0, size());
    }

    @Override
    void writeToInternal(OutputStream out, int sourceOffset, int numberToWrite) throws IOException {
        byte[] chunk = new byte[Math.min(COPY_CHUNK, Math.max(1, numberToWrite))];
        ByteBuffer view = buffer().duplicate();
        view.position(sourceOffset).limit(sourceOffset + numberToWrite);
        while (view.hasRemaining()) {
            int length = Math.min(chunk.length, view.remaining());
            view.get(chunk, 0, length);
            out.write(chunk, 0, length);
        }
    }

    @Override
    void writeTo(ByteOutput output) throws IOException {
        output.writeLazy(buffer().duplicate());
    }

    @Override
    void writeToReverse(ByteOutput output) throws IOException {
        writeTo(output);
    }

    @Override
    public ByteBuffer asReadOnlyByteBuffer() {
        return buffer().duplicate();
    }

    @Override
    public List<ByteBuffer> asReadOnlyByteBufferList() {
        return List.of(asReadOnlyByteBuffer());
    }

    @Override
    protected String toStringInternal(Charset charset) {
        return new String(toByteArray(), charset);
    }

    @Override
    public boolean isValidUtf8() {
        return Utf8.isValidUtf8(buffer().duplicate());
    }

    @Override
    protected boolean equalsInternal(ByteString other) {
        if (other.size() != size()) {
            return false;
        }
        // compares the remaining bytes of both views, whatever backs the other string
        return buffer().duplicate().equals(other.asReadOnlyByteBuffer());
    }

    @Override
    public InputStream newInput() {
        ByteBuffer view = buffer().duplicate();
        return new InputStream() {
            @Override
            public int read() {
                return view.hasRemaining() ? view.get() & 0xFF : -1;
            }

            @Override
            public int read(byte[] target, int offset, int length) {
                if (length == 0) {
                    return 0;
                }
                if (!view.hasRemaining()) {
                    return -1;
                }
                int count = Math.min(length, view.remaining());
                view.get(target, offset, count);
                return count;
            }

            @Override
            public int available() {
                return view.remaining();
            }
        };
    }

    @Override
    public CodedInputStream newCodedInput() {
        return CodedInputStream.newInstance(buffer().duplicate());
    }

    @Override
    protected int getTreeDepth() {
        return 0;
    }

    @Override
    protected boolean isBalanced() {
        return true;
    }

    @Override
    protected int partialHash(int hash, int from, int count) {
        ByteBuffer view = buffer();
        for (int i = from; i < from + count; i++) {
            hash = hash * 31 + view.get(i);
        }
        return hash;
    }

    private Object writeReplace() {
        return ByteString.copyFrom(buffer().duplicate());
    }
}
