package io.condense.server.cli.channel;

import static java.util.Objects.requireNonNull;

import io.condense.proto.v1.Channel;
import io.condense.proto.v1.ChannelServiceGrpc;
import io.condense.proto.v1.ChannelVersion;
import io.condense.proto.v1.CreateChannelRequest;
import io.condense.proto.v1.DeleteChannelRequest;
import io.condense.proto.v1.DownloadVersionRequest;
import io.condense.proto.v1.GetChannelRequest;
import io.condense.proto.v1.ListChannelsRequest;
import io.condense.proto.v1.PushChunk;
import io.condense.proto.v1.PushHeader;
import io.condense.proto.v1.PushResult;
import io.condense.proto.v1.WatchChannelRequest;
import io.condense.server.cli.ChunkStreams;
import io.grpc.Context;
import io.grpc.ManagedChannel;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.List;
import java.util.function.Predicate;

/** A Java client of {@code condense.v1.ChannelService} on a connection made by {@code CondenseClient}. */
public final class ChannelClient {
    private final ChannelServiceGrpc.ChannelServiceBlockingStub blocking;
    private final ChannelServiceGrpc.ChannelServiceStub async;

    public ChannelClient(ManagedChannel channel) {
        requireNonNull(channel, "channel is null");
        this.blocking = ChannelServiceGrpc.newBlockingStub(channel);
        this.async = ChannelServiceGrpc.newStub(channel);
    }

    public Channel create(CreateChannelRequest request) {
        return blocking.createChannel(request);
    }

    public List<Channel> list() {
        return blocking.listChannels(ListChannelsRequest.getDefaultInstance()).getChannelsList();
    }

    public Channel get(String name) {
        return blocking.getChannel(GetChannelRequest.newBuilder().setName(name).build());
    }

    public void delete(String name) {
        blocking.deleteChannel(DeleteChannelRequest.newBuilder().setName(name).build());
    }

    /** Streams a weights file in messages of 256 KiB after the header; the version the server gave it. */
    public PushResult push(PushHeader header, InputStream weights) throws IOException {
        return ChunkStreams.call(async::push, PushChunk.newBuilder().setHeader(header).build(), weights,
                data -> PushChunk.newBuilder().setData(data).build());
    }

    /**
     * Hands every version >= from to {@code onVersion} in order, until it answers false or the channel is deleted (the
     * stream ends).
     */
    public void watch(String name, long from, Predicate<ChannelVersion> onVersion) {
        try (Context.CancellableContext context = Context.current().withCancellation()) {
            context.run(() -> {
                Iterator<ChannelVersion> versions = blocking.watchChannel(WatchChannelRequest.newBuilder().setChannel(name).setFromVersion(from).build());
                while (versions.hasNext()) {
                    if (!onVersion.test(versions.next())) {
                        return;
                    }
                }
            });
        }
    }

    /** Writes a version's compressed model to a file; the bytes written. */
    public long download(String name, long version, Path target) throws IOException {
        return ChunkStreams.write(blocking.downloadVersion(DownloadVersionRequest.newBuilder().setChannel(name).setVersion(version).build()), target);
    }
}
