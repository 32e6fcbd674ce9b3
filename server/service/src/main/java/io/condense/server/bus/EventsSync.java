package io.condense.server.bus;

import java.time.Duration;
import java.util.Collection;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Read-your-writes across processes: waits until every record committed to the events and channels topics before the
 * call has been handed to the listeners. An API instance uses it before answering that it does not know a job, because
 * the job may have been submitted a moment ago through another instance.
 */
@FunctionalInterface
public interface EventsSync {
    /** Never waits: for a view that cannot lag (tests). */
    EventsSync NONE = topics -> CompletableFuture.completedFuture(null);

    /**
     * Completes once the records committed to {@code topics} (of {@link Topics#EVENTS}, {@link Topics#CHANNELS} and {@link Topics#PUSHES})
     * before the call have been handed to the listeners; the caller may work meanwhile.
     */
    CompletableFuture<Void> latest(Collection<String> topics);

    /** {@link #latest} of the events and channels topics, what the job and channel views are built from. */
    default CompletableFuture<Void> latestViews() {
        return latest(List.of(Topics.EVENTS, Topics.CHANNELS));
    }

    /** @return false when the records committed to both topics before the call were not all read within the timeout */
    default boolean awaitLatest(Duration timeout) throws InterruptedException {
        return await(latestViews(), timeout);
    }

    /** @return false when {@code reached} did not complete within the timeout */
    static boolean await(CompletableFuture<Void> reached, Duration timeout) throws InterruptedException {
        try {
            reached.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
            return true;
        } catch (TimeoutException | ExecutionException e) {
            return false;
        }
    }
}
