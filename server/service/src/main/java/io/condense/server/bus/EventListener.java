package io.condense.server.bus;

import io.condense.proto.v1.events.BusEvent;

/** Receives every committed event of the events topic, in order. */
public interface EventListener {
    /**
     * @param event the event
     * @param live false while catching up on events written before this process started reading
     */
    void onEvent(BusEvent event, boolean live);
}
