package io.condense.server.channel;

import io.condense.proto.v1.ChannelVersion;

/** Follows a channel: receives each version once it has an outcome, in version order; {@link #finished} when the channel is deleted. */
public interface ChannelWatcher {
    void onVersion(ChannelVersion version);

    void finished();
}
