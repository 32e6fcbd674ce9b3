package io.condense.server.bus;

import io.condense.proto.v1.events.BusEvent;
import java.util.List;

/**
 * Receives the events this process has just committed to the events topic in one transaction (a step worker's outcome),
 * before its events reader reads them back. Only what the commit made durable is handed over.
 */
@FunctionalInterface
public interface CommittedEvents {
    /** For a process whose views (no API role) need nothing at once: the events reader delivers everything. */
    CommittedEvents NONE = events -> {
    };

    /** @param events one job's events as the transaction wrote them, in order */
    void committed(List<BusEvent> events);
}
