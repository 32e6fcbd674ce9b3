package io.condense.server.worker;

import static java.util.Objects.requireNonNull;

import io.condense.proto.v1.events.Progress;
import io.condense.server.bus.EventSink;
import io.condense.server.bus.Events;

/** Publishes a step's progress as events, at most a few per second (always the first and the last). */
final class ProgressReporter {
    private static final long MINIMUM_INTERVAL_NANOS = 250_000_000L;

    private final EventSink sender;
    private final String jobId;
    private final int stepIndex;
    private final String technique;
    private long lastSent = Long.MIN_VALUE;

    ProgressReporter(EventSink sender, String jobId, int stepIndex, String technique) {
        this.sender = requireNonNull(sender, "sender is null");
        this.jobId = requireNonNull(jobId, "jobId is null");
        this.stepIndex = stepIndex;
        this.technique = requireNonNull(technique, "technique is null");
    }

    synchronized void report(double fraction, String message) {
        double clamped = Double.isNaN(fraction) ? 0 : Math.max(0, Math.min(1, fraction));
        long now = System.nanoTime();
        if (clamped < 1 && lastSent != Long.MIN_VALUE && now - lastSent < MINIMUM_INTERVAL_NANOS) {
            return;
        }
        lastSent = now;
        sender.send(Events.event(jobId).setProgress(Progress.newBuilder()
                .setStepIndex(stepIndex)
                .setTechnique(technique)
                .setFraction(clamped)
                .setMessage(message == null ? "" : message)).build());
    }
}
