package io.condense.server.api;

import io.condense.proto.v1.DownloadChunk;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.server.blob.BlobId;
import io.condense.server.blob.BlobStore;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.io.InputStream;

/** Streams a blob to a client in chunks of at most 1 MiB as the call becomes ready (Download, DownloadVersion). */
public final class BlobDownload {
    private BlobDownload() {
    }

    /** Streams the blob; a blob that cannot be opened ends the call with its error. */
    public static void stream(BlobStore blobs, BlobId id, StreamObserver<DownloadChunk> responses) {
        ServerCallStreamObserver<DownloadChunk> call = (ServerCallStreamObserver<DownloadChunk>) responses;
        InputStream in;
        long size;
        try {
            size = blobs.size(id);
            in = blobs.open(id);
        } catch (RuntimeException e) {
            responses.onError(ErrorStatus.of(e));
            return;
        }
        call.setOnCancelHandler(() -> closeQuietly(in));
        call.setOnReadyHandler(new Runnable() {
            private boolean first = true;
            private boolean done;

            @Override
            public void run() {
                try {
                    byte[] buffer = new byte[CompressionService.MAX_CHUNK_BYTES];
                    while (!done && call.isReady()) {
                        int read = in.readNBytes(buffer, 0, buffer.length);
                        if (read > 0 || first) {
                            DownloadChunk.Builder chunk = DownloadChunk.newBuilder().setData(com.google.protobuf.ByteString.copyFrom(buffer, 0, read));
                            if (first) {
                                chunk.setTotalSize(size);
                                first = false;
                            }
                            call.onNext(chunk.build());
                        }
                        if (read < buffer.length) {
                            done = true;
                            closeQuietly(in);
                            call.onCompleted();
                        }
                    }
                } catch (IOException | RuntimeException e) {
                    done = true;
                    closeQuietly(in);
                    call.onError(ErrorStatus.of(e instanceof IOException
                            ? new CondenseException(ErrorCode.UNAVAILABLE, "reading the blob failed: " + e.getMessage(), e) : e));
                }
            }
        });
    }

    private static void closeQuietly(InputStream in) {
        try {
            in.close();
        } catch (IOException ignored) {
            // nothing more to read
        }
    }
}
