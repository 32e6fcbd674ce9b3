package io.condense.server.bus;

import io.condense.proto.v1.events.BusEvent;
import io.condense.proto.v1.events.ChannelPush;
import io.condense.proto.v1.events.ChannelState;

/** Receives every committed event of the events topic, in order, and every record of the channels topic. */
public interface EventListener {
    /**
     * @param event the event
     * @param live false while catching up on events written before this process started reading
     */
    void onEvent(BusEvent event, boolean live);

    /**
     * A record of the compacted channels topic, in the order of that topic (not ordered against the events topic).
     *
     * @param name the channel's name (the record key)
     * @param state the channel's state, or null when the channel was deleted
     */
    default void onChannelState(String name, ChannelState state, boolean live) {
    }

    /** A record of the pushes topic: a push acknowledged, in version order per channel (not ordered against the other topics). */
    default void onChannelPush(ChannelPush push, boolean live) {
    }
}
