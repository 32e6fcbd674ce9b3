package io.condense.server.channel;

import static java.util.Objects.requireNonNull;

import com.google.protobuf.ByteString;
import io.condense.proto.v1.Channel;
import io.condense.proto.v1.ChannelServiceGrpc;
import io.condense.proto.v1.ChannelVersion;
import io.condense.proto.v1.CreateChannelRequest;
import io.condense.proto.v1.DeleteChannelRequest;
import io.condense.proto.v1.DeleteChannelResponse;
import io.condense.proto.v1.DownloadChunk;
import io.condense.proto.v1.DownloadVersionRequest;
import io.condense.proto.v1.GetChannelRequest;
import io.condense.proto.v1.ListChannelsRequest;
import io.condense.proto.v1.ListChannelsResponse;
import io.condense.proto.v1.PushChunk;
import io.condense.proto.v1.PushHeader;
import io.condense.proto.v1.PushResult;
import io.condense.proto.v1.VersionState;
import io.condense.proto.v1.WatchChannelRequest;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.server.api.BlobDownload;
import io.condense.server.api.CompressionService;
import io.condense.server.api.ErrorStatus;
import io.condense.server.blob.BlobId;
import io.condense.server.blob.BlobStore;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The channels API ({@code condense.v1.ChannelService}): answers from the channel view, writes through {@link ChannelWriter}. */
public final class ChannelService extends ChannelServiceGrpc.ChannelServiceImplBase {
    private static final Logger log = LoggerFactory.getLogger(ChannelService.class);

    private final BlobStore blobs;
    private final ChannelView channels;
    private final ChannelWriter writer;

    public ChannelService(BlobStore blobs, ChannelView channels, ChannelWriter writer) {
        this.blobs = requireNonNull(blobs, "blobs is null");
        this.channels = requireNonNull(channels, "channels is null");
        this.writer = requireNonNull(writer, "writer is null");
    }

    @Override
    public void createChannel(CreateChannelRequest request, StreamObserver<Channel> responses) {
        answer("CreateChannel", responses, () -> {
            writer.create(request);
            return channels.channel(request.getName(), false).orElseThrow();
        });
    }

    @Override
    public void listChannels(ListChannelsRequest request, StreamObserver<ListChannelsResponse> responses) {
        answer("ListChannels", responses, () -> ListChannelsResponse.newBuilder().addAllChannels(channels.channels()).build());
    }

    @Override
    public void getChannel(GetChannelRequest request, StreamObserver<Channel> responses) {
        answer("GetChannel", responses, () -> writer.afterCatchingUp(() -> channels.channel(request.getName(), true))
                .orElseThrow(() -> unknown(request.getName())));
    }

    @Override
    public void deleteChannel(DeleteChannelRequest request, StreamObserver<DeleteChannelResponse> responses) {
        answer("DeleteChannel", responses, () -> {
            writer.delete(request.getName());
            return DeleteChannelResponse.getDefaultInstance();
        });
    }

    @Override
    public StreamObserver<PushChunk> push(StreamObserver<PushResult> responses) {
        return new StreamObserver<>() {
            // the chunks as received, joined once at the end into an array of the exact size: a growing buffer would copy a
            // 1 MB push four times, each copy a large (humongous) allocation for the collector
            private final List<ByteString> chunks = new ArrayList<>();
            private long received;
            private PushHeader header;
            private boolean failed;

            @Override
            public void onNext(PushChunk chunk) {
                if (failed) {
                    return;
                }
                try {
                    if (chunk.hasHeader()) {
                        if (header != null) {
                            throw new CondenseException(ErrorCode.INVALID_PARAMETER, "a push carries its header in the first message only");
                        }
                        header = chunk.getHeader();
                    } else if (header == null) {
                        throw new CondenseException(ErrorCode.INVALID_PARAMETER, "the first message of a push must carry its header (channel, step)");
                    }
                    if (chunk.getData().size() > CompressionService.MAX_CHUNK_BYTES) {
                        throw new CondenseException(ErrorCode.RESOURCE_EXHAUSTED, "a push chunk holds " + chunk.getData().size()
                                + " bytes; send chunks of at most 1 MiB");
                    }
                    if (received + chunk.getData().size() > Math.min(blobs.maxBlobBytes(), Integer.MAX_VALUE - 8)) {
                        throw new CondenseException(ErrorCode.RESOURCE_EXHAUSTED, "the pushed weights exceed the server's limit of "
                                + blobs.maxBlobBytes() + " bytes");
                    }
                    chunks.add(chunk.getData());
                    received += chunk.getData().size();
                } catch (RuntimeException e) {
                    failed = true;
                    responses.onError(status("Push", e));
                }
            }

            @Override
            public void onError(Throwable t) {
                failed = true;
            }

            private byte[] joined() {
                byte[] weights = new byte[(int) received];
                int offset = 0;
                for (ByteString chunk : chunks) {
                    chunk.copyTo(weights, offset);
                    offset += chunk.size();
                }
                chunks.clear();
                return weights;
            }

            @Override
            public void onCompleted() {
                if (failed) {
                    return;
                }
                if (header == null) {
                    responses.onError(status("Push", new CondenseException(ErrorCode.INVALID_PARAMETER, "the push carried no header and no weights")));
                    return;
                }
                answer("Push", responses, () -> writer.push(header, joined()));
            }
        };
    }

    @Override
    public void watchChannel(WatchChannelRequest request, StreamObserver<ChannelVersion> responses) {
        ServerCallStreamObserver<ChannelVersion> call = (ServerCallStreamObserver<ChannelVersion>) responses;
        String name = request.getChannel();
        ChannelWatcher watcher = new ChannelWatcher() {
            @Override
            public void onVersion(ChannelVersion version) {
                synchronized (call) {
                    if (!call.isCancelled()) {
                        call.onNext(version);
                    }
                }
            }

            @Override
            public void finished() {
                synchronized (call) {
                    if (!call.isCancelled()) {
                        call.onCompleted();
                    }
                }
            }
        };
        call.setOnCancelHandler(() -> channels.unwatch(name, watcher));
        try {
            if (writer.afterCatchingUp(() -> channels.state(name)).isEmpty() || !channels.watch(name, request.getFromVersion(), watcher)) {
                responses.onError(status("WatchChannel", unknown(name)));
            }
        } catch (RuntimeException e) {
            responses.onError(status("WatchChannel", e));
        }
    }

    @Override
    public void downloadVersion(DownloadVersionRequest request, StreamObserver<DownloadChunk> responses) {
        BlobId id;
        try {
            ChannelVersion version = writer.afterCatchingUp(() -> channels.version(request.getChannel(), request.getVersion())).orElseThrow(() -> channels
                    .state(request.getChannel()).isEmpty() ? unknown(request.getChannel())
                    : new CondenseException(ErrorCode.NOT_FOUND, "channel '" + request.getChannel() + "' has no version " + request.getVersion()));
            if (version.getResultModelId().isEmpty()) {
                throw io.grpc.Status.FAILED_PRECONDITION.withDescription("version " + version.getVersion() + " of channel '" + version.getChannel()
                        + "' is " + version.getState().name().substring("VERSION_STATE_".length())
                        + (version.getState() == VersionState.VERSION_STATE_QUEUED || version.getState() == VersionState.VERSION_STATE_RUNNING
                                ? "; it has no compressed model yet" : "; it has no compressed model")).asRuntimeException();
            }
            id = BlobId.of(version.getResultModelId());
        } catch (RuntimeException e) {
            responses.onError(status("DownloadVersion", e));
            return;
        }
        BlobDownload.stream(blobs, id, responses);
    }

    private static CondenseException unknown(String name) {
        return new CondenseException(ErrorCode.NOT_FOUND, "no channel named '" + name + "' exists; condense channel list shows the channels");
    }

    private static <T> void answer(String method, StreamObserver<T> responses, java.util.function.Supplier<T> answer) {
        try {
            responses.onNext(answer.get());
            responses.onCompleted();
        } catch (RuntimeException e) {
            responses.onError(status(method, e));
        }
    }

    private static RuntimeException status(String method, Throwable failure) {
        if (!(failure instanceof CondenseException) && !(failure instanceof io.grpc.StatusRuntimeException)) {
            log.error("{} failed unexpectedly", method, failure);
        }
        return ErrorStatus.of(failure);
    }
}
