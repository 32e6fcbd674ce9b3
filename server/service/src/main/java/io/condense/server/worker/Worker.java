package io.condense.server.worker;

import static java.util.Objects.requireNonNull;

import io.condense.sdk.eval.Evaluator;
import io.condense.sdk.training.Trainer;
import io.condense.server.blob.BlobStore;
import io.condense.server.bus.CommittedEvents;
import io.condense.server.bus.EventSender;
import io.condense.server.bus.EventsReader;
import io.condense.server.bus.KafkaSettings;
import io.condense.server.metrics.StepMetrics;
import io.condense.server.job.Submissions;
import io.condense.server.plugin.LoadedTechnique;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import io.condense.server.metrics.KafkaClientBinder;
import java.util.function.Supplier;

/** Runs a step consumer for every technique (those the plugin host offers), each on its own thread. */
public final class Worker implements AutoCloseable {
    private static final int MAX_ATTEMPTS = 3;

    private final List<StepWorker> stepWorkers = new ArrayList<>();
    private final List<Thread> threads = new ArrayList<>();
    private final EventSender sender;

    public Worker(Collection<LoadedTechnique> techniques, BlobStore blobs, Cancellations cancellations, StepMetrics metrics, KafkaSettings settings,
            String instanceId, Path scratchRoot, int threadsPerTechnique, KafkaClientBinder binder, StepAttempts attempts,
            Submissions submissions, EventsReader events, CommittedEvents committed) {
        requireNonNull(techniques, "techniques is null");
        JobIntake intake = new JobIntake(submissions, events);
        this.sender = new EventSender(settings, "condense-worker-events-" + instanceId, binder);
        Supplier<Optional<Evaluator>> evaluator = HostService.evaluator();
        Supplier<Optional<Trainer>> trainer = HostService.trainer();
        BlobDatasets datasets = new BlobDatasets(blobs);
        StepRunner runner = new StepRunner(blobs, datasets, sender, metrics, cancellations, evaluator, trainer, scratchRoot, instanceId, MAX_ATTEMPTS,
                Duration.ofMillis(500));
        JobFinisher finisher = new JobFinisher(blobs, datasets, evaluator, scratchRoot);
        Map<String, LoadedTechnique> byId = new LinkedHashMap<>();
        for (LoadedTechnique technique : techniques) {
            byId.put(technique.id(), technique);
        }
        StepChain chain = new StepChain(byId, runner, cancellations, finisher, attempts);
        java.util.concurrent.atomic.AtomicInteger busy = new java.util.concurrent.atomic.AtomicInteger();
        for (LoadedTechnique technique : techniques) {
            for (int thread = 1; thread <= threadsPerTechnique; thread++) {
                stepWorkers.add(new StepWorker(technique, chain, finisher, cancellations, metrics, sender, attempts, intake, events::isCaughtUp,
                        committed, busy, settings,
                        instanceId + "-" + thread, binder));
            }
        }
    }

    public void start() {
        for (StepWorker stepWorker : stepWorkers) {
            Thread thread = new Thread(stepWorker, "condense-worker-" + stepWorker.techniqueId() + "-" + (threads.size() + 1));
            thread.setDaemon(true);
            thread.start();
            threads.add(thread);
        }
    }

    /** Waits until every step consumer has subscribed. */
    public boolean awaitReady(Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        for (StepWorker stepWorker : stepWorkers) {
            if (!stepWorker.awaitSubscribed(Duration.ofNanos(Math.max(0, deadline - System.nanoTime())))) {
                return false;
            }
        }
        return true;
    }

    /**
     * Why this worker cannot do its work: a step consumer stopped by itself (fenced by another process with the same
     * instance id, an error it could not get over) or its thread is gone. Empty while every step consumer runs.
     */
    public Optional<String> problem() {
        for (int i = 0; i < threads.size(); i++) {
            StepWorker stepWorker = stepWorkers.get(i);
            Optional<String> failure = stepWorker.failure();
            if (failure.isPresent()) {
                return Optional.of("the step consumer of '" + stepWorker.techniqueId() + "' stopped: " + failure.get());
            }
            if (!threads.get(i).isAlive()) {
                return Optional.of("the step consumer of '" + stepWorker.techniqueId() + "' is no longer running");
            }
        }
        return Optional.empty();
    }

    @Override
    public void close() throws InterruptedException {
        for (StepWorker stepWorker : stepWorkers) {
            stepWorker.stop();
        }
        for (Thread thread : threads) {
            thread.join(30_000);
        }
        sender.close();
    }
}
