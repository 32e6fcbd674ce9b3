package io.condense.server.worker;

import static java.util.Objects.requireNonNull;

import io.condense.proto.v1.events.BusEvent;
import io.condense.proto.v1.events.StepRequested;
import io.condense.server.plugin.LoadedTechnique;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.BooleanSupplier;

/**
 * Runs a step and, while the job's next step is a technique this process hosts, the steps after it, so that their
 * outcomes are written in the one transaction of the first step's record instead of one Kafka hop per step (a step's
 * transaction, its read_committed visibility and the next consumer's fetch cost 15-20 ms per step on loopback; issue 16).
 *
 * <p>What it keeps: a chain's outcome is still written once, with the first step's consumer offset; a worker killed
 * during any step of a chain commits nothing, so the whole chain is read again and run from its first step. What it
 * changes: the earlier steps' {@code StepCompleted} are written with the last one, so watchers see them at the end of
 * the chain, and a crash costs the rework of the chain. Both are bounded by {@link #BUDGET}: no step is added once the
 * chain has run that long. Only a step record delivered for the first time starts a chain ({@link FirstDeliveries}: the
 * caller's {@code mayChain} says so), and no step joins one whose earlier attempts died ({@link StepAttempts}), so after
 * a crash the steps run one per transaction again, and {@link StepAttempts} blames the step that took its worker down,
 * not the ones chained before it. And only while the process runs no other step and no other step waits on the worker's
 * partitions: with concurrent jobs, each technique's consumers run their own steps side by side, which keeps their
 * throughput.
 */
final class StepChain {
    /** No further step joins a chain that has run this long (the rework a crash costs, the delay of earlier steps' events). */
    static final Duration BUDGET = Duration.ofSeconds(1);

    private final Map<String, LoadedTechnique> techniques;
    private final StepRunner runner;
    private final Cancellations cancellations;
    private final JobFinisher finisher;
    private final StepAttempts attempts;

    /**
     * What a chain ran.
     *
     * @param requests the request of every step it ran, in order (the first is the consumed record's)
     * @param lastTechnique the technique of the last step it ran
     * @param outcome every step's events in order, then the last step's next request or the job's end
     */
    record Ran(List<StepRequested> requests, LoadedTechnique lastTechnique, StepOutcome outcome) {
        Ran {
            requests = List.copyOf(requireNonNull(requests, "requests is null"));
            requireNonNull(lastTechnique, "lastTechnique is null");
            requireNonNull(outcome, "outcome is null");
        }

        StepRequested last() {
            return requests.get(requests.size() - 1);
        }
    }

    StepChain(Map<String, LoadedTechnique> techniques, StepRunner runner, Cancellations cancellations, JobFinisher finisher,
            StepAttempts attempts) {
        this.techniques = Map.copyOf(requireNonNull(techniques, "techniques is null"));
        this.runner = requireNonNull(runner, "runner is null");
        this.cancellations = requireNonNull(cancellations, "cancellations is null");
        this.finisher = requireNonNull(finisher, "finisher is null");
        this.attempts = requireNonNull(attempts, "attempts is null");
    }

    /**
     * Runs {@code first} with {@code technique}, then each next step this process can run (see the class comment) while
     * {@code mayChain} holds (the record of {@code first} is delivered for the first time, the worker is not stopping, and
     * no other step waits for it).
     */
    Ran run(StepRequested first, LoadedTechnique technique, BooleanSupplier mayChain) {
        long started = System.nanoTime();
        List<StepRequested> ran = new ArrayList<>();
        List<BusEvent> events = new ArrayList<>();
        StepRequested current = first;
        LoadedTechnique currentTechnique = technique;
        boolean firstAttempt = attempts.history(first.getJobId(), first.getStepIndex()).cutOff() == 0;
        while (true) {
            ran.add(current);
            StepOutcome outcome = StepOutcome.of(current, currentTechnique, StepOutcome.execute(runner, current, currentTechnique),
                    cancellations, finisher);
            events.addAll(outcome.events());
            LoadedTechnique next = firstAttempt && within(started) && mayChain.getAsBoolean() ? chainable(outcome.next()) : null;
            if (next == null) {
                return new Ran(ran, currentTechnique, new StepOutcome(events, outcome.next(), outcome.failure(), outcome.outcome()));
            }
            current = outcome.next();
            currentTechnique = next;
        }
    }

    /** The technique that runs {@code next} here, or null when it goes through its step topic. */
    LoadedTechnique chainable(StepRequested next) {
        if (next == null) {
            return null;
        }
        LoadedTechnique technique = techniques.get(next.getSpec().getSteps(next.getStepIndex()).getTechnique());
        if (technique == null || attempts.history(next.getJobId(), next.getStepIndex()).cutOff() > 0) {
            return null;
        }
        return technique;
    }

    private static boolean within(long startedNanos) {
        return System.nanoTime() - startedNanos < BUDGET.toNanos();
    }
}
