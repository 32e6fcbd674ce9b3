package io.condense.server.job;

import io.condense.proto.v1.Job;
import io.condense.proto.v1.JobAcceptedEvent;
import io.condense.proto.v1.JobCancelledEvent;
import io.condense.proto.v1.JobCompletedEvent;
import io.condense.proto.v1.JobError;
import io.condense.proto.v1.JobEvent;
import io.condense.proto.v1.JobFailedEvent;
import io.condense.proto.v1.JobState;
import io.condense.proto.v1.StepCompletedEvent;
import io.condense.proto.v1.StepProgressEvent;
import io.condense.proto.v1.StepRetryEvent;
import io.condense.proto.v1.StepStartedEvent;
import io.condense.proto.v1.events.BusEvent;
import io.condense.proto.v1.events.JobSpec;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.server.bus.Events;
import io.condense.server.bus.EventListener;
import io.condense.server.security.Tenants;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Every job this instance has seen on the events topic, rebuilt from the topic at start, so GetJob,
 * WatchJob and Download answer from any API instance. Which job a client request id names is decided by
 * {@link Submissions}, as every reader of the topic decides it: a later duplicate's id answers as the first job.
 */
public final class JobView implements EventListener {
    private final Map<String, JobEntry> jobs = new ConcurrentHashMap<>();
    private final Submissions submissions = new Submissions();
    /** Duplicates of a client request's first job (see {@link Submissions}): their id answers as that job. */
    private final Map<String, String> duplicates = new ConcurrentHashMap<>();
    /**
     * Requests this instance submitted that the topic has not shown yet (read-your-writes for a retry on this instance);
     * the topic's first job of the request id wins once it is read.
     */
    private final Map<String, Submissions.ClientRequest> submittedHere = new ConcurrentHashMap<>();

    @Override
    public void onEvent(BusEvent event, boolean live) {
        String jobId = event.getJobId();
        if (event.hasJobSubmitted()) {
            submitted(jobId, event.getJobSubmitted().getSpec(), event.getTimeMs());
            return;
        }
        JobEntry entry = jobs.get(jobId);
        if (entry == null) {
            return;
        }
        // applied and handed to the watchers under the entry's lock: the events reader and a worker's committed outcome
        // (onCommitted) may carry the same event at once, and a watcher must see each once and in order
        synchronized (entry) {
            apply(entry, event);
        }
    }

    /**
     * Events this process has just committed to the events topic in one transaction (a step worker's outcome), handed
     * over before the events reader reads them back, so that a watcher of this process sees a job's steps end and the job
     * end without waiting for the transaction's markers and the reader's read_committed fetch (issue 16). They are applied
     * only when the view holds the result of every step before their first one and has seen the last of their steps
     * start, i.e. the reader has delivered what was written before them; otherwise the reader delivers them as always (a
     * restarted process may know an earlier, crashed attempt's start of the last step while the results written after it,
     * by the attempt that finished an earlier step, are still unread). The reader's copies are then ignored: a step's
     * result is recorded once, and nothing is recorded after a job's end (progress notes the reader had not delivered yet
     * included).
     */
    public void onCommitted(java.util.List<BusEvent> events) {
        if (events.isEmpty()) {
            return;
        }
        JobEntry entry = jobs.get(events.get(0).getJobId());
        if (entry == null) {
            return;
        }
        synchronized (entry) {
            if (entry.terminal() || entry.job().getStepResultsCount() != firstStep(events) - 1
                    || entry.job().getCurrentStep() != lastStep(events)) {
                return;
            }
            for (BusEvent event : events) {
                apply(entry, event);
            }
        }
    }

    /** The lowest step number the outcome's events speak of (0 when none does). */
    private static int firstStep(java.util.List<BusEvent> events) {
        return events.stream().mapToInt(JobView::stepNumber).filter(step -> step > 0).min().orElse(0);
    }

    /** The highest step number the outcome's events speak of. */
    private static int lastStep(java.util.List<BusEvent> events) {
        return events.stream().mapToInt(JobView::stepNumber).max().orElse(0);
    }

    /** The step number an outcome's event speaks of, or 0 (the job's end names no step). */
    private static int stepNumber(BusEvent event) {
        return switch (event.getPayloadCase()) {
            case STEP_COMPLETED -> event.getStepCompleted().getStepIndex() + 1;
            case STEP_FAILED -> event.getStepFailed().getStepIndex() + 1;
            case JOB_CANCELLED -> event.getJobCancelled().getStepIndex() + 1;
            default -> 0;
        };
    }

    /** Applies one event to a job and tells its watchers; the caller holds the entry's lock. */
    private static void apply(JobEntry entry, BusEvent event) {
        if (entry.terminal()) {
            return;
        }
        JobEvent.Builder out = JobEvent.newBuilder().setTimeMs(event.getTimeMs());
        Job.Builder job = entry.job();
        switch (event.getPayloadCase()) {
            case STEP_STARTED -> {
                var started = event.getStepStarted();
                job.setState(JobState.JOB_STATE_RUNNING).setCurrentStep(started.getStepIndex() + 1);
                out.setStepStarted(StepStartedEvent.newBuilder().setStep(started.getStepIndex() + 1)
                        .setTechnique(started.getTechnique()).setAttempt(started.getAttempt()));
            }
            case PROGRESS -> {
                var progress = event.getProgress();
                out.setProgress(StepProgressEvent.newBuilder().setStep(progress.getStepIndex() + 1).setTechnique(progress.getTechnique())
                        .setFraction(progress.getFraction()).setMessage(progress.getMessage()));
            }
            case STEP_COMPLETED -> {
                var completed = event.getStepCompleted();
                int step = completed.getResult().getStep();
                if (job.getStepResultsList().stream().anyMatch(result -> result.getStep() == step)) {
                    // a step's outcome is written once: this is the same event again (onCommitted, then the reader)
                    return;
                }
                job.addStepResults(completed.getResult());
                out.setStepCompleted(StepCompletedEvent.newBuilder().setResult(completed.getResult()));
            }
            case STEP_FAILED -> {
                var failed = event.getStepFailed();
                if (!failed.getWillRetry()) {
                    return;
                }
                out.setStepRetry(StepRetryEvent.newBuilder().setStep(failed.getStepIndex() + 1).setTechnique(failed.getTechnique())
                        .setAttempt(failed.getAttempt()).setError(failed.getError()));
            }
            case JOB_COMPLETED -> {
                var completed = event.getJobCompleted();
                job.setState(JobState.JOB_STATE_COMPLETED).setResultModelId(completed.getResultModelId())
                        .setReportId(completed.getReportId()).setReport(completed.getReport()).setFinishedAtMs(event.getTimeMs());
                out.setCompleted(JobCompletedEvent.newBuilder().setResultModelId(completed.getResultModelId())
                        .setReportId(completed.getReportId()).setReport(completed.getReport()));
            }
            case JOB_FAILED -> {
                job.setState(JobState.JOB_STATE_FAILED).setError(event.getJobFailed().getError()).setFinishedAtMs(event.getTimeMs());
                out.setFailed(JobFailedEvent.newBuilder().setError(event.getJobFailed().getError()));
            }
            case JOB_CANCELLED -> {
                var cancelled = event.getJobCancelled();
                job.setState(JobState.JOB_STATE_CANCELLED).setFinishedAtMs(event.getTimeMs());
                out.setCancelled(JobCancelledEvent.newBuilder().setStep(cancelled.getStepIndex() + 1).setReason(cancelled.getReason()));
            }
            case CANCEL_REQUESTED, JOB_SUBMITTED, PAYLOAD_NOT_SET -> {
                return;
            }
        }
        entry.publish(out);
    }

    /**
     * A job this instance has just written (read-your-writes, before the events reader reads it back): listed at once; a
     * second call, or one after the topic has shown the job, changes nothing.
     */
    public void accept(String jobId, JobSpec spec, long timeMs) {
        JobEntry added;
        synchronized (this) {
            if (duplicates.containsKey(jobId) || submissions.verdict(jobId).isPresent()) {
                return;
            }
            added = add(jobId, spec);
            if (added != null && !spec.getClientRequestId().isEmpty()) {
                submittedHere.putIfAbsent(Submissions.key(spec.getTenant(), spec.getClientRequestId()),
                        new Submissions.ClientRequest(jobId, Submissions.requestOf(spec)));
            }
        }
        if (added != null) {
            added.publish(acceptedEvent(spec, timeMs));
        }
    }

    /** A JobSubmitted read from the topic: a job, or a duplicate that joins the first job of its client request id. */
    private void submitted(String jobId, JobSpec spec, long timeMs) {
        JobEntry added = null;
        JobEntry handedOver = null;
        JobEntry first = null;
        Submissions.Verdict verdict;
        synchronized (this) {
            verdict = submissions.record(jobId, spec);
            submittedHere.remove(Submissions.key(spec.getTenant(), spec.getClientRequestId()));
            if (verdict.kind() == Submissions.Kind.DUPLICATE) {
                duplicates.put(jobId, verdict.firstJobId());
                handedOver = jobs.remove(jobId);
                first = jobs.get(verdict.firstJobId());
            } else {
                added = add(jobId, spec);
            }
        }
        if (added != null) {
            added.publish(acceptedEvent(spec, timeMs));
        }
        if (verdict.kind() == Submissions.Kind.CONFLICT) {
            refuse(jobs.get(jobId), spec.getClientRequestId(), verdict.firstJobId(), timeMs);
        }
        if (handedOver != null && first != null) {
            // watchers of the id this instance answered follow the first job from its start
            handedOver.handOverWatchers(first);
        }
    }

    /** A new entry for the job, or null when it is known already. */
    private JobEntry add(String jobId, JobSpec spec) {
        JobEntry entry = new JobEntry(Job.newBuilder()
                .setJobId(jobId)
                .setState(JobState.JOB_STATE_QUEUED)
                .setModelId(spec.getModelId())
                .addAllSteps(spec.getStepsList())
                .setSubmittedAtMs(spec.getSubmittedAtMs())
                .setClientRequestId(spec.getClientRequestId()), spec.getTenant());
        return jobs.putIfAbsent(jobId, entry) == null ? entry : null;
    }

    private static JobEvent.Builder acceptedEvent(JobSpec spec, long timeMs) {
        return JobEvent.newBuilder().setTimeMs(timeMs).setAccepted(JobAcceptedEvent.newBuilder().setStepCount(spec.getStepsCount()));
    }

    /** A later job of a request id with another request: it never runs (no worker takes it) and fails ALREADY_EXISTS. */
    private static void refuse(JobEntry entry, String clientRequestId, String firstJobId, long timeMs) {
        JobError error = Events.error(0, "", new CondenseException(ErrorCode.ALREADY_EXISTS, Submissions.reusedRequestId(clientRequestId, firstJobId)));
        synchronized (entry) {
            if (entry.terminal()) {
                return;
            }
            entry.job().setState(JobState.JOB_STATE_FAILED).setError(error).setFinishedAtMs(timeMs);
        }
        entry.publish(JobEvent.newBuilder().setTimeMs(timeMs).setFailed(JobFailedEvent.newBuilder().setError(error)));
    }

    /** A job of the calling tenant ({@link Tenants#current()}); another tenant's job is absent. */
    public Optional<Job> job(String jobId) {
        JobEntry entry = visible(entry(jobId));
        return entry == null ? Optional.empty() : Optional.of(entry.snapshot());
    }

    /** The calling tenant's job of this client request id, if this instance has seen it. */
    public Optional<Submissions.ClientRequest> jobForClientRequest(String clientRequestId) {
        String key = Submissions.key(Tenants.current(), clientRequestId);
        return submissions.first(Tenants.current(), clientRequestId).or(() -> Optional.ofNullable(submittedHere.get(key)));
    }

    /** The entry of a job id; a duplicate's id gives its first job's entry. */
    private JobEntry entry(String jobId) {
        return jobs.get(duplicates.getOrDefault(jobId, jobId));
    }

    /** The most recently submitted jobs (in {@code state}, unless it is UNSPECIFIED), newest first, without their reports. */
    public java.util.List<Job> recent(int limit, JobState state) {
        return jobs.values().stream()
                .filter(entry -> visible(entry) != null)
                .map(JobEntry::snapshot)
                .filter(job -> state == JobState.JOB_STATE_UNSPECIFIED || job.getState() == state)
                .sorted(java.util.Comparator.comparingLong(Job::getSubmittedAtMs).reversed().thenComparing(Job::getJobId))
                .limit(limit)
                .map(job -> job.toBuilder().clearReport().build())
                .toList();
    }

    /** Follows a job; false when the job is unknown. */
    public boolean watch(String jobId, JobWatcher watcher) {
        JobEntry entry = visible(entry(jobId));
        if (entry == null) {
            return false;
        }
        entry.watch(watcher);
        return true;
    }

    public void unwatch(String jobId, JobWatcher watcher) {
        JobEntry entry = entry(jobId);
        if (entry != null) {
            entry.unwatch(watcher);
        }
    }

    /**
     * Jobs waiting for a step of this technique: accepted and not started, or between a completed step and the start of
     * the next.
     */
    public long queued(String technique) {
        long count = 0;
        for (JobEntry entry : jobs.values()) {
            synchronized (entry) {
                Job.Builder job = entry.job();
                if (JobEntry.isTerminal(job.getState())) {
                    continue;
                }
                int done = job.getStepResultsCount();
                boolean waiting = job.getState() == JobState.JOB_STATE_QUEUED || job.getCurrentStep() == done;
                if (waiting && done < job.getStepsCount() && job.getSteps(done).getTechnique().equals(technique)) {
                    count++;
                }
            }
        }
        return count;
    }

    /** The entry when the calling tenant may see it, else null. */
    private static JobEntry visible(JobEntry entry) {
        return entry != null && entry.tenant().equals(Tenants.current()) ? entry : null;
    }

    /** Jobs accepted and not yet completed, failed or cancelled. */
    public long inFlight() {
        return jobs.values().stream().filter(entry -> !entry.terminal()).count();
    }

    /** Jobs of one tenant that are queued or running: what its {@code jobs=} limit counts. */
    public long inFlight(String tenant) {
        return jobs.values().stream().filter(entry -> !entry.terminal() && entry.tenant().equals(tenant)).count();
    }
}
