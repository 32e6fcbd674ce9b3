package io.condense.server.worker;

import static java.util.Objects.requireNonNull;

import io.condense.proto.v1.JobError;
import io.condense.proto.v1.StepResult;
import io.condense.proto.v1.events.StepFailed;
import io.condense.proto.v1.events.StepRequested;
import io.condense.proto.v1.events.StepStarted;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.eval.Evaluator;
import io.condense.sdk.training.Trainer;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.technique.Parameters;
import io.condense.sdk.technique.TechniqueResult;
import io.condense.server.Folders;
import io.condense.server.blob.BlobId;
import io.condense.server.blob.BlobStore;
import io.condense.server.blob.ModelBundles;
import io.condense.server.bus.EventSink;
import io.condense.server.bus.Events;
import io.condense.server.metrics.StepMetrics;
import io.condense.server.metrics.StepOutcome;
import io.condense.server.plugin.LoadedTechnique;
import io.condense.server.report.Structs;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs one step of a job: loads the input model from the blob store, runs the technique with a host
 * step context, stores the output model. A retriable failure is tried again a bounded number of times;
 * anything a plugin throws that is not a CondenseException is reported as PLUGIN_FAILURE.
 */
final class StepRunner {
    private static final Logger log = LoggerFactory.getLogger(StepRunner.class);

    private final BlobStore blobs;
    private final ModelBundles bundles;
    private final BlobDatasets datasets;
    private final EventSink sender;
    private final StepMetrics metrics;
    private final Cancellations cancellations;
    private final Supplier<Optional<Evaluator>> evaluator;
    private final Supplier<Optional<Trainer>> trainer;
    private final Path scratchRoot;
    private final String workerName;
    private final int maxAttempts;
    private final Duration retryBackoff;

    StepRunner(BlobStore blobs, BlobDatasets datasets, EventSink sender, StepMetrics metrics, Cancellations cancellations,
            Supplier<Optional<Evaluator>> evaluator, Supplier<Optional<Trainer>> trainer, Path scratchRoot, String workerName,
            int maxAttempts, Duration retryBackoff) {
        this.blobs = requireNonNull(blobs, "blobs is null");
        this.bundles = new ModelBundles(blobs);
        this.datasets = requireNonNull(datasets, "datasets is null");
        this.sender = requireNonNull(sender, "sender is null");
        this.metrics = requireNonNull(metrics, "metrics is null");
        this.cancellations = requireNonNull(cancellations, "cancellations is null");
        this.evaluator = requireNonNull(evaluator, "evaluator is null");
        this.trainer = requireNonNull(trainer, "trainer is null");
        this.scratchRoot = requireNonNull(scratchRoot, "scratchRoot is null");
        this.workerName = requireNonNull(workerName, "workerName is null");
        if (maxAttempts < 1) {
            throw new IllegalArgumentException("maxAttempts must be at least 1: " + maxAttempts);
        }
        this.maxAttempts = maxAttempts;
        this.retryBackoff = requireNonNull(retryBackoff, "retryBackoff is null");
    }

    StepExecution run(StepRequested request, LoadedTechnique technique) {
        String jobId = request.getJobId();
        int stepIndex = request.getStepIndex();
        int stepNumber = stepIndex + 1;
        for (int attempt = 1; ; attempt++) {
            if (cancellations.isCancelled(jobId)) {
                return new StepExecution.Cancelled("cancelled before step " + stepNumber + " (" + technique.id() + ") started");
            }
            sender.send(Events.event(jobId).setStepStarted(StepStarted.newBuilder()
                    .setStepIndex(stepIndex).setTechnique(technique.id()).setAttempt(attempt).setWorker(workerName)).build());
            // written before the step runs: if the step takes its worker down, the next worker knows an attempt died
            sender.flush();
            long started = System.nanoTime();
            long bytesIn = 0;
            try {
                BlobId input = BlobId.of(request.getInputModelId());
                bytesIn = bundles.modelBytes(input);
                StepExecution execution = runOnce(request, technique, input, bytesIn, started);
                if (execution instanceof StepExecution.Completed completed) {
                    metrics.recordStep(technique.id(), technique.pluginVersion(), StepOutcome.SUCCESS, elapsed(started), bytesIn,
                            completed.result().getBytesOut());
                }
                return execution;
            } catch (Throwable failure) {
                CondenseException e = Failures.classify(failure, "step " + stepNumber + " (" + technique.id() + ")");
                if (e.code() == ErrorCode.CANCELLED) {
                    metrics.recordStep(technique.id(), technique.pluginVersion(), StepOutcome.CANCELLED, elapsed(started), bytesIn, 0);
                    return new StepExecution.Cancelled(e.getMessage());
                }
                metrics.recordStep(technique.id(), technique.pluginVersion(), StepOutcome.FAILURE, elapsed(started), bytesIn, 0);
                JobError error = Events.error(stepNumber, technique.id(), e);
                if (e.retriable() && attempt < maxAttempts) {
                    log.warn("Step {} ({}) of job {} failed on attempt {} of {}, retrying: {}", stepNumber, technique.id(), jobId, attempt,
                            maxAttempts, e.toString());
                    sender.send(Events.event(jobId).setStepFailed(StepFailed.newBuilder().setStepIndex(stepIndex)
                            .setTechnique(technique.id()).setAttempt(attempt).setError(error).setWillRetry(true)).build());
                    sleep(retryBackoff.multipliedBy(attempt));
                    continue;
                }
                log.info("Step {} ({}) of job {} failed: {}", stepNumber, technique.id(), jobId, e.toString());
                return new StepExecution.Failed(error);
            }
        }
    }

    private StepExecution runOnce(StepRequested request, LoadedTechnique technique, BlobId input, long bytesIn, long started) {
        String jobId = request.getJobId();
        int stepIndex = request.getStepIndex();
        var step = request.getSpec().getSteps(stepIndex);
        Path scratch = createScratch(jobId, stepIndex);
        try {
            // a model with external data comes as files in the scratch folder, its tensors memory-mapped one by one
            boolean bundled = bundles.manifest(input).isPresent();
            OnnxModel model = ModelLoading.load(bundles, input, scratch.resolve("input"), stepIndex == 0
                    ? "the uploaded model " + request.getInputModelId() : "the output of step " + stepIndex);
            // the same resolution Submit made (PipelineValidator.resolve): specs, value checks, the technique's validate
            Parameters parameters = technique.resolve(step.getParametersMap());
            HostStepContext context = new HostStepContext(
                    technique.id(),
                    parameters,
                    metrics.registryFor(technique.id(), technique.pluginVersion()),
                    new ProgressReporter(sender, jobId, stepIndex, technique.id())::report,
                    () -> cancellations.isCancelled(jobId),
                    evaluator.get(),
                    () -> datasets.load(request.getSpec().getCalibrationDataId(), "", scratch.resolve("calibration"), "calibration"),
                    () -> datasets.load(request.getSpec().getEvaluationDataId(), request.getSpec().getEvaluationLabelsId(),
                            scratch.resolve("evaluation")),
                    () -> datasets.loadTraining(request.getSpec(), scratch.resolve("training")),
                    trainer,
                    id -> ModelLoading.uploaded(bundles, id, request.getSpec().getTenant(), scratch.resolve("uploaded-" + id)),
                    () -> stepIndex == 0 ? model : ModelLoading.load(bundles, BlobId.of(request.getSpec().getModelId()),
                            scratch.resolve("job-model"), "the job's model " + request.getSpec().getModelId()),
                    scratch);
            TechniqueResult result;
            try {
                result = technique.apply(model, parameters, context);
            } catch (CondenseException e) {
                throw e;
            } catch (OutOfMemoryError e) {
                throw new CondenseException(ErrorCode.RESOURCE_EXHAUSTED, "technique '" + technique.id() + "' ran out of memory on a "
                        + bytesIn + "-byte model; give the worker more heap (-Xmx)", e);
            } catch (RuntimeException | LinkageError | StackOverflowError e) {
                throw new CondenseException(ErrorCode.PLUGIN_FAILURE, "technique '" + technique.id() + "' (plugin '" + technique.pluginId()
                        + "' " + technique.pluginVersion() + ") failed unexpectedly: " + e, e);
            }
            if (result == null || result.model() == null) {
                throw new CondenseException(ErrorCode.PLUGIN_FAILURE, "technique '" + technique.id() + "' (plugin '" + technique.pluginId()
                        + "' " + technique.pluginVersion() + ") returned no model");
            }
            // a storage-encoding step (encode) stores its packed file; its model is that file decoded, which the job evaluates
            boolean packed = result.packed().isPresent();
            // a model given with external data is stored so again (and any model over 2 GiB), tensor by tensor
            ModelBundles.Stored output = packed ? storePacked(result.packed().get().toByteArray())
                    : bundles.store(result.model(), bundled, scratch.resolve("output"));
            BlobId outputId = output.id();
            bundles.grant(request.getSpec().getTenant(), outputId);
            StepResult stepResult = StepResult.newBuilder()
                    .setStep(stepIndex + 1)
                    .setTechnique(technique.id())
                    .setPluginVersion(technique.pluginVersion())
                    .putAllParameters(technique.effectiveParameters(parameters))
                    .setOutputModelId(outputId.hex())
                    .setDurationMs(elapsed(started).toMillis())
                    .setBytesIn(bytesIn)
                    .setBytesOut(output.bytes())
                    .setReport(Structs.toStruct(result.report()))
                    .build();
            return new StepExecution.Completed(stepResult, model, result.model(), packed);
        } finally {
            Folders.deleteRecursively(scratch);
        }
    }

    private ModelBundles.Stored storePacked(byte[] packed) {
        return new ModelBundles.Stored(blobs.put(packed), packed.length);
    }

    private Path createScratch(String jobId, int stepIndex) {
        try {
            Files.createDirectories(scratchRoot);
            return Files.createTempDirectory(scratchRoot, jobId + "-step" + (stepIndex + 1) + "-");
        } catch (IOException e) {
            throw new CondenseException(ErrorCode.UNAVAILABLE, "cannot create a scratch folder under " + scratchRoot + ": " + e.getMessage(), e);
        }
    }

    private static Duration elapsed(long startedNanos) {
        return Duration.ofNanos(System.nanoTime() - startedNanos);
    }

    private static void sleep(Duration duration) {
        try {
            Thread.sleep(duration.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CondenseException(ErrorCode.UNAVAILABLE, "the worker was stopped while waiting to retry a step", e);
        }
    }
}
