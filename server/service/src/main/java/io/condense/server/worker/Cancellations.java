package io.condense.server.worker;

import io.condense.proto.v1.events.BusEvent;
import io.condense.server.bus.EventListener;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/** Jobs whose cancellation was asked for and that have not ended yet, as seen on the events topic. */
public final class Cancellations implements EventListener {
    private final Set<String> cancelled = ConcurrentHashMap.newKeySet();

    @Override
    public void onEvent(BusEvent event, boolean live) {
        switch (event.getPayloadCase()) {
            case CANCEL_REQUESTED -> cancelled.add(event.getJobId());
            case JOB_COMPLETED, JOB_FAILED, JOB_CANCELLED -> cancelled.remove(event.getJobId());
            default -> {
                // other events do not change cancellation
            }
        }
    }

    public boolean isCancelled(String jobId) {
        return cancelled.contains(jobId);
    }
}
