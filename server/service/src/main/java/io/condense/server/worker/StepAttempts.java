package io.condense.server.worker;

import io.condense.proto.v1.events.BusEvent;
import io.condense.server.bus.EventListener;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * Attempts of every step of every unfinished job, as the events topic records them: a worker announces each
 * attempt (StepStarted, written before the step runs) and ends it with a retry (StepFailed that will retry) or
 * with the step's outcome. An attempt with neither was cut off: its worker died (killed, out of memory, a
 * native crash). A step whose attempts died {@link #CRASH_LIMIT} times is not run again.
 */
public final class StepAttempts implements EventListener {
    /**
     * Attempts that died with their worker before a step is failed instead of run again: 2, or the JVM property
     * {@code condense.crash.limit} (at least 1) for operators whose workers are killed from outside often enough that two
     * kills of one step are not a sign of a poison job (the chaos test, which kill -9s a worker every 4 s, runs with 3).
     */
    public static final int CRASH_LIMIT = Math.max(1, Integer.getInteger("condense.crash.limit", 2));

    private final Map<String, Map<Integer, Attempts>> jobs = new ConcurrentHashMap<>();

    /** Workers that started an attempt of one step, and how many attempts ended in a retry. */
    private static final class Attempts {
        final List<String> workers = new CopyOnWriteArrayList<>();
        volatile int retried;
    }

    /** What is known of the earlier attempts of one step. */
    public record History(int cutOff, List<String> workers) {
    }

    @Override
    public void onEvent(BusEvent event, boolean live) {
        String jobId = event.getJobId();
        switch (event.getPayloadCase()) {
            case STEP_STARTED -> {
                var started = event.getStepStarted();
                attempts(jobId, started.getStepIndex()).workers.add(started.getWorker());
                handedOn(jobId, started.getStepIndex() - 1, started.getWorker());
            }
            case STEP_FAILED -> {
                if (event.getStepFailed().getWillRetry()) {
                    attempts(jobId, event.getStepFailed().getStepIndex()).retried++;
                }
            }
            case STEP_COMPLETED -> {
                Map<Integer, Attempts> steps = jobs.get(jobId);
                if (steps != null) {
                    steps.remove(event.getStepCompleted().getStepIndex());
                }
            }
            case JOB_COMPLETED, JOB_FAILED, JOB_CANCELLED -> jobs.remove(jobId);
            default -> {
                // other events say nothing about attempts
            }
        }
    }

    /**
     * A step started by a worker while the step before it has no result yet: that worker chained it ({@code StepChain}),
     * so its attempt of the step before ran to its end (otherwise the step could not start before the earlier result was
     * committed and read, which forgets the earlier step's attempts). That attempt is not cut off: a crash in the chained
     * step is blamed on that step alone.
     */
    private void handedOn(String jobId, int previousIndex, String worker) {
        Map<Integer, Attempts> steps = jobs.get(jobId);
        Attempts previous = steps == null || previousIndex < 0 ? null : steps.get(previousIndex);
        if (previous == null || previous.workers.isEmpty()) {
            return;
        }
        List<String> workers = List.copyOf(previous.workers);
        if (workers.size() > previous.retried && workers.get(workers.size() - 1).equals(worker)) {
            previous.retried++;
        }
    }

    private Attempts attempts(String jobId, int stepIndex) {
        return jobs.computeIfAbsent(jobId, id -> new ConcurrentHashMap<>()).computeIfAbsent(stepIndex, index -> new Attempts());
    }

    /** The attempts of a step that began and never ended, and the workers that ran the step so far. */
    public History history(String jobId, int stepIndex) {
        Map<Integer, Attempts> steps = jobs.get(jobId);
        Attempts attempts = steps == null ? null : steps.get(stepIndex);
        if (attempts == null) {
            return new History(0, List.of());
        }
        List<String> workers = List.copyOf(attempts.workers);
        return new History(Math.max(0, workers.size() - attempts.retried), workers);
    }
}
