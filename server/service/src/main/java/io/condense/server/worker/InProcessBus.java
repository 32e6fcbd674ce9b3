package io.condense.server.worker;

import static java.util.Objects.requireNonNull;

import io.condense.proto.v1.events.BusEvent;
import io.condense.proto.v1.events.JobFailed;
import io.condense.proto.v1.events.StepRequested;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.eval.Evaluator;
import io.condense.server.api.JobPublisher;
import io.condense.server.blob.BlobStore;
import io.condense.server.bus.EventListener;
import io.condense.server.bus.EventSink;
import io.condense.server.bus.Events;
import io.condense.server.metrics.StepMetrics;
import io.condense.server.plugin.LoadedTechnique;
import io.condense.server.plugin.PluginHost;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The transport of a one-shot local run ({@code condense compress} without {@code --server}): the API's decisions and
 * the steps' events go straight to this process's listeners (the job view, the cancellations) instead of through
 * Kafka, and the steps run on one thread with the same {@link StepRunner}, {@link JobFinisher} and
 * {@link StepOutcome} as the Kafka step workers. Nothing is durable: a job lives as long as the process, which is
 * what a one-shot command needs and what lets it skip starting a broker ({@code condense serve} stays on Kafka).
 */
public final class InProcessBus implements JobPublisher, EventSink, AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(InProcessBus.class);

    private final PluginHost plugins;
    private final List<EventListener> listeners;
    private final Cancellations cancellations;
    private final StepRunner runner;
    private final JobFinisher finisher;
    private final StepMetrics metrics;
    private final ExecutorService steps = Executors.newSingleThreadExecutor(task -> {
        Thread thread = new Thread(task, "condense-local-steps");
        thread.setDaemon(true);
        return thread;
    });
    /** Search jobs run beside the step thread: their candidates are jobs that the step thread runs. */
    private final ExecutorService searchThreads = Executors.newCachedThreadPool(task -> {
        Thread thread = new Thread(task, "condense-local-search");
        thread.setDaemon(true);
        return thread;
    });
    private volatile Function<StepRequested, List<BusEvent>> searches;

    /**
     * @param listeners receive every event in order, as the events topic's readers would (the cancellations are added)
     */
    public InProcessBus(PluginHost plugins, BlobStore blobs, StepMetrics metrics, Path scratchRoot, List<EventListener> listeners) {
        this.plugins = requireNonNull(plugins, "plugins is null");
        this.metrics = requireNonNull(metrics, "metrics is null");
        this.cancellations = new Cancellations();
        this.listeners = List.copyOf(requireNonNull(listeners, "listeners is null"));
        BlobDatasets datasets = new BlobDatasets(blobs);
        HostService<Evaluator> evaluator = HostService.evaluator();
        this.runner = new StepRunner(blobs, datasets, this, metrics, cancellations, evaluator, HostService.trainer(), scratchRoot,
                "local", 1, Duration.ZERO);
        this.finisher = new JobFinisher(blobs, datasets, evaluator, scratchRoot);
    }

    /** What runs the one step of a search job ({@code SearchStep}): it answers the events that end the job. */
    public void runSearchesWith(Function<StepRequested, List<BusEvent>> runner) {
        this.searches = requireNonNull(runner, "runner is null");
    }

    /** Whether a job was asked to stop. */
    public boolean isCancelled(String jobId) {
        return cancellations.isCancelled(jobId);
    }

    @Override
    public void submit(BusEvent submitted, StepRequested firstStep) {
        deliver(submitted);
        if (firstStep.getSpec().hasSearch()) {
            searchThreads.execute(() -> runSearch(firstStep));
        } else {
            steps.execute(() -> run(firstStep));
        }
    }

    private void runSearch(StepRequested request) {
        Function<StepRequested, List<BusEvent>> runner = searches;
        if (runner == null) {
            CondenseException missing = new CondenseException(ErrorCode.UNAVAILABLE, "this platform runs no searches");
            deliver(Events.event(request.getJobId()).setJobFailed(JobFailed.newBuilder().setError(Events.error(1, "search", missing))).build());
            return;
        }
        runner.apply(request).forEach(this::deliver);
    }

    @Override
    public void publish(BusEvent event) {
        deliver(event);
    }

    @Override
    public void send(BusEvent event) {
        deliver(event);
    }

    private void run(StepRequested first) {
        StepRequested request = first;
        while (request != null) {
            String techniqueId = request.getSpec().getSteps(request.getStepIndex()).getTechnique();
            LoadedTechnique technique = plugins.technique(techniqueId).orElse(null);
            StepOutcome decided;
            if (technique == null) {
                // the pipeline was validated against these very plugins; only a plugin closed under us gets here
                CondenseException missing = new CondenseException(ErrorCode.UNKNOWN_TECHNIQUE, "technique '" + techniqueId
                        + "' is not loaded");
                deliver(Events.event(request.getJobId()).setJobFailed(JobFailed.newBuilder()
                        .setError(Events.error(request.getStepIndex() + 1, techniqueId, missing))).build());
                return;
            }
            try {
                decided = StepOutcome.of(request, technique, StepOutcome.execute(runner, request, technique), cancellations, finisher);
            } catch (Throwable e) {
                // whatever escaped fails this job, so the command waiting on it never waits forever
                log.error("Step {} of job {} failed unexpectedly", request.getStepIndex() + 1, request.getJobId(), e);
                String what = "step " + (request.getStepIndex() + 1) + " (" + technique.id() + ")";
                decided = StepOutcome.of(request, technique, new StepExecution.Failed(Events.error(request.getStepIndex() + 1,
                        technique.id(), Failures.classify(e, what))), cancellations, finisher);
            }
            decided.events().forEach(this::deliver);
            if (decided.outcome() != null) {
                metrics.recordJob(decided.outcome(),
                        Duration.ofMillis(Math.max(0, System.currentTimeMillis() - request.getSpec().getSubmittedAtMs())));
            }
            request = decided.next();
        }
    }

    private synchronized void deliver(BusEvent event) {
        cancellations.onEvent(event, true);
        for (EventListener listener : listeners) {
            listener.onEvent(event, true);
        }
    }

    @Override
    public void close() throws InterruptedException {
        // a one-shot run closes after its job ended; a step still running (the command was interrupted) is abandoned
        steps.shutdownNow();
        searchThreads.shutdownNow();
        steps.awaitTermination(5, TimeUnit.SECONDS);
        searchThreads.awaitTermination(5, TimeUnit.SECONDS);
    }
}
