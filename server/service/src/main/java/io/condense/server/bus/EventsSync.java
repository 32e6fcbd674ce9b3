package io.condense.server.bus;

import java.time.Duration;

/**
 * Read-your-writes across processes: waits until every event committed to the events topic before the
 * call has been handed to the listeners. An API instance uses it before answering that it does not know a
 * job, because the job may have been submitted a moment ago through another instance.
 */
@FunctionalInterface
public interface EventsSync {
    /** Never waits: for a view that cannot lag (tests). */
    EventsSync NONE = timeout -> true;

    /** @return false when the events committed before the call were not all read within the timeout */
    boolean awaitLatest(Duration timeout) throws InterruptedException;
}
