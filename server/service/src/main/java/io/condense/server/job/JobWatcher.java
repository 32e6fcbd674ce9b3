package io.condense.server.job;

import io.condense.proto.v1.JobEvent;

/** Follows one job: receives its events in order; {@link #finished} after the final one. */
public interface JobWatcher {
    void onEvent(JobEvent event);

    void finished();
}
