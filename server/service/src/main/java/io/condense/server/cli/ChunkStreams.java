package io.condense.server.cli;

import com.google.protobuf.ByteString;
import com.google.protobuf.UnsafeByteOperations;
import io.condense.proto.v1.DownloadChunk;
import io.grpc.Status;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Iterator;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Function;

/** The client's side of chunked streams: a file sent in messages of 256 KiB with flow control (uploads, pushes), chunks written to a file (downloads). */
public final class ChunkStreams {
    /** The largest chunk the server takes. */
    public static final int CHUNK_BYTES = 1 << 20;
    /**
     * The chunks a client sends: 256 KiB, under the size at which the JVM's default collector (G1, regions of at least 1 MiB)
     * allocates an array outside the young generation, on the client and on the server that parses the message. Chunks of
     * {@link #CHUNK_BYTES} made every 1 MB push allocate two such "humongous" arrays on each side, and those start collections.
     */
    public static final int SEND_BYTES = 256 * 1024;

    private ChunkStreams() {
    }

    /** The messages of a client stream, made one at a time as the transport takes them. */
    @FunctionalInterface
    public interface Messages<T> {
        /** The next message, or null after the last. */
        T next() throws IOException;
    }

    /** The messages {@code first} (when not null) and then what {@code in} holds, in messages of at most {@link #SEND_BYTES}. */
    public static <T> Messages<T> chunks(T first, InputStream in, Function<ByteString, T> message) {
        return new Messages<>() {
            private boolean firstSent = first == null;
            private boolean ended;

            @Override
            public T next() throws IOException {
                if (!firstSent) {
                    firstSent = true;
                    return first;
                }
                while (!ended) {
                    // a fresh array per message, handed to the message without a copy (it is never written again), no
                    // larger than what the stream says it still holds (a 4 KB delta push gets a 4 KB array); when it
                    // says nothing (at its end, or a stream that cannot tell), one byte is read before a whole chunk is made
                    int remaining = in.available();
                    int first = -1;
                    if (remaining <= 0) {
                        first = in.read();
                        if (first < 0) {
                            ended = true;
                            break;
                        }
                    }
                    byte[] chunk = new byte[remaining > 0 ? Math.min(SEND_BYTES, remaining) : SEND_BYTES];
                    int offset = 0;
                    if (first >= 0) {
                        chunk[offset++] = (byte) first;
                    }
                    int read = offset + in.readNBytes(chunk, offset, chunk.length - offset);
                    ended = read < chunk.length;
                    if (read > 0) {
                        return message.apply(UnsafeByteOperations.unsafeWrap(chunk, 0, read));
                    }
                }
                return null;
            }
        };
    }

    /**
     * Sends the messages, waiting for the transport to be ready between them, and half-closes the call unless
     * {@code result} is done already (the server answered early, with an error). {@code ready} wakes the sending thread
     * when the transport becomes ready again (the call's on-ready handler) or the result arrives.
     */
    static <T> void send(ClientCallStreamObserver<T> requests, Messages<T> messages, Future<?> result, ReadySignal ready) throws IOException {
        ready.waiter = Thread.currentThread();
        try {
            while (!result.isDone()) {
                T next = messages.next();
                if (next == null) {
                    break;
                }
                while (!requests.isReady() && !result.isDone()) {
                    // woken by the on-ready handler; the timeout only bounds a missed wake-up
                    LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(50));
                }
                requests.onNext(next);
            }
        } catch (IOException | RuntimeException e) {
            requests.cancel("the client could not read what it sends", e);
            throw e;
        } finally {
            ready.waiter = null;
        }
        if (!result.isDone()) {
            requests.onCompleted();
        }
    }

    /**
     * Wakes a sender waiting for the transport. A gRPC client stream is not ready once about 32 KB wait to be sent, so a
     * sender polling every millisecond instead lost about a millisecond per 256 KiB message.
     */
    static final class ReadySignal implements Runnable {
        private volatile Thread waiter;

        @Override
        public void run() {
            Thread thread = waiter;
            if (thread != null) {
                LockSupport.unpark(thread);
            }
        }
    }

    /**
     * A client-streaming call: {@code start} opens it with the response observer given, {@code first} (when not null) is
     * sent before the chunks of {@code in}; the server's one answer, or its error as a StatusRuntimeException.
     */
    public static <Q, R> R call(Consumer<ClientResponseObserver<Q, R>> start, Q first, InputStream in, Function<ByteString, Q> message)
            throws IOException {
        return call(start, chunks(first, in, message));
    }

    /** A client-streaming call sending {@code messages}; the server's one answer, or its error as a StatusRuntimeException. */
    public static <Q, R> R call(Consumer<ClientResponseObserver<Q, R>> start, Messages<Q> messages) throws IOException {
        CompletableFuture<R> result = new CompletableFuture<>();
        CompletableFuture<ClientCallStreamObserver<Q>> started = new CompletableFuture<>();
        ReadySignal ready = new ReadySignal();
        result.whenComplete((value, failure) -> ready.run());
        start.accept(new ClientResponseObserver<Q, R>() {
            @Override
            public void beforeStart(ClientCallStreamObserver<Q> requests) {
                requests.setOnReadyHandler(ready);
                started.complete(requests);
            }

            @Override
            public void onNext(R value) {
                result.complete(value);
            }

            @Override
            public void onError(Throwable t) {
                result.completeExceptionally(t);
            }

            @Override
            public void onCompleted() {
                result.completeExceptionally(Status.INTERNAL.withDescription("the server answered nothing").asRuntimeException());
            }
        });
        send(started.join(), messages, result, ready);
        return CondenseClient.await(result);
    }

    /** Writes downloaded chunks to a file (written beside it, then moved into place); the bytes written. */
    public static long write(Iterator<DownloadChunk> chunks, Path target) throws IOException {
        Path folder = target.toAbsolutePath().getParent();
        Files.createDirectories(folder);
        Path temporary = Files.createTempFile(folder, "." + target.getFileName(), ".part");
        long written = 0;
        try {
            try (OutputStream out = Files.newOutputStream(temporary)) {
                while (chunks.hasNext()) {
                    DownloadChunk chunk = chunks.next();
                    chunk.getData().writeTo(out);
                    written += chunk.getData().size();
                }
            }
            // createTempFile makes the file owner-only; a written model or report is an ordinary file (rw-r--r--)
            if (Files.getFileStore(temporary).supportsFileAttributeView("posix")) {
                Files.setPosixFilePermissions(temporary, java.nio.file.attribute.PosixFilePermissions.fromString("rw-r--r--"));
            }
            Files.move(temporary, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            return written;
        } finally {
            Files.deleteIfExists(temporary);
        }
    }
}
