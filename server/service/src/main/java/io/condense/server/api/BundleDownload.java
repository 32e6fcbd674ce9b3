package io.condense.server.api;

import com.google.protobuf.ByteString;
import io.condense.proto.v1.BundleChunk;
import io.condense.proto.v1.BundleData;
import io.condense.proto.v1.BundleFile;
import io.condense.proto.v1.BundleHeader;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.server.blob.BlobId;
import io.condense.server.blob.ModelBundles;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.io.InputStream;

/**
 * Streams a stored model as a bundle (DownloadBundle): its header, then each file's chunks of at most 1 MiB with their
 * offsets and CRC32C, as the call becomes ready; one file is open at a time and one chunk in the heap. A plain model is a
 * bundle of one file.
 */
public final class BundleDownload {
    private BundleDownload() {
    }

    /** The header a stored model is sent with. */
    static BundleHeader header(ModelBundles bundles, BlobId id) {
        return bundles.manifest(id).orElseGet(() -> BundleHeader.newBuilder().addFiles(BundleFile.newBuilder()
                .setName(ModelBundles.MODEL_FILE).setSize(bundles.blobs().size(id)).setSha256(id.hex())).build());
    }

    /** Streams the model; a model that cannot be read ends the call with its error. */
    public static void stream(ModelBundles bundles, BlobId id, StreamObserver<BundleChunk> responses) {
        ServerCallStreamObserver<BundleChunk> call = (ServerCallStreamObserver<BundleChunk>) responses;
        BundleHeader header;
        try {
            header = header(bundles, id);
        } catch (RuntimeException e) {
            responses.onError(ErrorStatus.of(e));
            return;
        }
        Sender sender = new Sender(bundles, header, call);
        call.setOnCancelHandler(sender::close);
        call.setOnReadyHandler(sender);
    }

    private static final class Sender implements Runnable {
        private final ModelBundles bundles;
        private final BundleHeader header;
        private final ServerCallStreamObserver<BundleChunk> call;
        private final byte[] buffer = new byte[CompressionService.MAX_CHUNK_BYTES];
        private boolean headerSent;
        private boolean done;
        private int file;
        private long offset;
        private InputStream in;

        Sender(ModelBundles bundles, BundleHeader header, ServerCallStreamObserver<BundleChunk> call) {
            this.bundles = bundles;
            this.header = header;
            this.call = call;
        }

        @Override
        public synchronized void run() {
            try {
                while (!done && call.isReady()) {
                    if (!headerSent) {
                        call.onNext(BundleChunk.newBuilder().setHeader(header).build());
                        headerSent = true;
                    } else if (file == header.getFilesCount()) {
                        done = true;
                        call.onCompleted();
                    } else {
                        sendChunk();
                    }
                }
            } catch (IOException | RuntimeException e) {
                done = true;
                close();
                call.onError(ErrorStatus.of(e instanceof IOException
                        ? new CondenseException(ErrorCode.UNAVAILABLE, "reading the model's files failed: " + e.getMessage(), e) : e));
            }
        }

        private void sendChunk() throws IOException {
            BundleFile current = header.getFiles(file);
            if (in == null) {
                in = bundles.blobs().open(BlobId.of(current.getSha256()));
                offset = 0;
            }
            int read = in.readNBytes(buffer, 0, (int) Math.min(buffer.length, current.getSize() - offset));
            if (read > 0) {
                call.onNext(BundleChunk.newBuilder().setData(BundleData.newBuilder().setFile(file).setOffset(offset)
                        .setData(ByteString.copyFrom(buffer, 0, read)).setCrc32C(Checksums.crc32c(buffer, 0, read))).build());
                offset += read;
            }
            if (read == 0 || offset == current.getSize()) {
                close();
                file++;
            }
        }

        synchronized void close() {
            if (in != null) {
                try {
                    in.close();
                } catch (IOException ignored) {
                    // nothing more to read
                }
                in = null;
            }
        }
    }
}
