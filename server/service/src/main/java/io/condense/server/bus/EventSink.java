package io.condense.server.bus;

import io.condense.proto.v1.events.BusEvent;

/**
 * Where a step's informational events go (started, progress, a retry): the events topic through {@link EventSender},
 * or straight to the job view of a one-shot local run ({@code io.condense.server.worker.InProcessBus}).
 */
public interface EventSink {

    void send(BusEvent event);

    /** Waits until every event sent so far is written, so events that follow come after them. */
    default void flush() {
    }
}
