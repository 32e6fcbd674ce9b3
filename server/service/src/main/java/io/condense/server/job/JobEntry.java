package io.condense.server.job;

import io.condense.proto.v1.Job;
import io.condense.proto.v1.JobEvent;
import io.condense.proto.v1.JobState;
import java.util.ArrayList;
import java.util.List;

/** One job as the view knows it: its state, its history of events and who is watching. Guarded by itself. */
final class JobEntry {
    private final Job.Builder job;
    private final String tenant;
    private final List<JobEvent> history = new ArrayList<>();
    private final List<JobWatcher> watchers = new ArrayList<>();
    /** The first job of the request id, once this entry turned out to be a duplicate of it: watchers go there. */
    private JobEntry handedTo;

    JobEntry(Job.Builder job, String tenant) {
        this.job = job;
        this.tenant = tenant;
    }

    /** The tenant that submitted the job; "" on a server without tokens. */
    String tenant() {
        return tenant;
    }

    synchronized Job snapshot() {
        return job.build();
    }

    synchronized boolean terminal() {
        return isTerminal(job.getState());
    }

    Job.Builder job() {
        return job;
    }

    /** Records an event and hands it to the watchers; after a final event the watchers are finished and dropped. */
    void publish(JobEvent.Builder event) {
        List<JobWatcher> toNotify;
        JobEvent built;
        boolean finished;
        synchronized (this) {
            built = event.setJobId(job.getJobId()).setSequence(history.size() + 1L).build();
            history.add(built);
            toNotify = List.copyOf(watchers);
            finished = isTerminal(job.getState());
            if (finished) {
                watchers.clear();
            }
        }
        for (JobWatcher watcher : toNotify) {
            watcher.onEvent(built);
            if (finished) {
                watcher.finished();
            }
        }
    }

    /**
     * Replays the history to a new watcher, then keeps it informed; finishes it at once when the job already ended. After
     * a hand-over the watcher goes to the first job's entry.
     */
    void watch(JobWatcher watcher) {
        boolean finished;
        JobEntry forward;
        synchronized (this) {
            forward = handedTo;
            finished = isTerminal(job.getState());
            if (forward == null) {
                if (!finished) {
                    watchers.add(watcher);
                }
                // replay under the lock so no new event slips between the history and the live events
                for (JobEvent event : history) {
                    watcher.onEvent(event);
                }
            }
        }
        if (forward != null) {
            forward.watch(watcher);
        } else if (finished) {
            watcher.finished();
        }
    }

    /** Moves this entry's watchers to another job's entry, which replays its history to them. */
    void handOverWatchers(JobEntry to) {
        List<JobWatcher> moved;
        synchronized (this) {
            handedTo = to;
            moved = List.copyOf(watchers);
            watchers.clear();
        }
        for (JobWatcher watcher : moved) {
            to.watch(watcher);
        }
    }

    synchronized void unwatch(JobWatcher watcher) {
        watchers.remove(watcher);
    }

    static boolean isTerminal(JobState state) {
        return state == JobState.JOB_STATE_COMPLETED || state == JobState.JOB_STATE_FAILED || state == JobState.JOB_STATE_CANCELLED;
    }
}
