package io.condense.server.worker;

import static java.util.Objects.requireNonNull;

import io.condense.proto.v1.StepResult;
import io.condense.proto.v1.events.JobCompleted;
import io.condense.proto.v1.events.StepRequested;
import io.condense.sdk.data.Dataset;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.eval.EvaluationRequest;
import io.condense.sdk.eval.EvaluationResult;
import io.condense.sdk.eval.Evaluator;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.stats.ModelStats;
import io.condense.sdk.technique.Report;
import io.condense.server.Folders;
import io.condense.server.blob.BlobId;
import io.condense.server.blob.BlobStore;
import io.condense.server.blob.ModelBundles;
import io.condense.server.report.JobReport;
import io.condense.server.report.Structs;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * Ends a job after its last step: statistics of the original and the result, the evaluation (on the
 * job's data, or on generated inputs), the report stored as a JSON blob. Runs in the worker, never in an RPC.
 */
final class JobFinisher {
    private static final int MAX_EVALUATION_SAMPLES = 1000;
    private static final int GENERATED_SAMPLES = 32;
    private static final int LATENCY_RUNS = 10;
    /** The stage named as the failing "technique" of a job whose end failed (step 0: after the steps). */
    static final String EVALUATION = "evaluation";
    static final String REPORT = "report";

    private final BlobStore blobs;
    private final ModelBundles bundles;
    private final BlobDatasets datasets;
    private final Supplier<Optional<Evaluator>> evaluator;
    private final Path scratchRoot;

    JobFinisher(BlobStore blobs, BlobDatasets datasets, Supplier<Optional<Evaluator>> evaluator, Path scratchRoot) {
        this.blobs = requireNonNull(blobs, "blobs is null");
        this.bundles = new ModelBundles(blobs);
        this.datasets = requireNonNull(datasets, "datasets is null");
        this.evaluator = requireNonNull(evaluator, "evaluator is null");
        this.scratchRoot = requireNonNull(scratchRoot, "scratchRoot is null");
    }

    /** Where the end of a job failed ({@code report}: statistics and the report; {@code evaluation}: ONNX Runtime) and why. */
    static final class EndFailure extends RuntimeException {
        private final String stage;
        private final CondenseException error;

        EndFailure(String stage, CondenseException error) {
            super(stage + ": " + error.getMessage(), error);
            this.stage = requireNonNull(stage, "stage is null");
            this.error = requireNonNull(error, "error is null");
        }

        String stage() {
            return stage;
        }

        CondenseException error() {
            return error;
        }
    }

    /**
     * @throws EndFailure for anything that goes wrong (out of memory included), naming the stage, never another throwable
     */
    JobCompleted finish(StepRequested request, StepExecution.Completed last) {
        Path originalFolder = scratchRoot.resolve(request.getJobId() + "-original");
        try {
            return finish(request, last, originalFolder);
        } finally {
            Folders.deleteRecursively(originalFolder);
        }
    }

    private JobCompleted finish(StepRequested request, StepExecution.Completed last, Path originalFolder) {
        var spec = request.getSpec();
        List<StepResult> steps = new ArrayList<>(request.getCompletedStepsList());
        steps.add(last.result());
        OnnxModel original;
        OnnxModel compressed;
        ModelStats originalStats;
        ModelStats compressedStats;
        try {
            // a model with external data is read again from its stored files: the step's folder, where a tensor over 2 GiB
            // was read from, is gone
            BlobId modelId = BlobId.of(spec.getModelId());
            original = request.getStepIndex() == 0 && bundles.manifest(modelId).isEmpty() ? last.inputModel()
                    : ModelLoading.load(bundles, modelId, originalFolder.resolve("original"), "the uploaded model " + spec.getModelId());
            BlobId resultId = BlobId.of(last.result().getOutputModelId());
            compressed = last.packed() || bundles.manifest(resultId).isEmpty() ? last.outputModel()
                    : ModelLoading.load(bundles, resultId, originalFolder.resolve("result"), "the result " + resultId);
            originalStats = ModelStats.of(original);
            compressedStats = ModelStats.of(compressed);
        } catch (Throwable e) {
            throw new EndFailure(REPORT, end(e, "the statistics of the original and the result"));
        }
        Map<String, Object> evaluation;
        try {
            evaluation = evaluate(request, original, compressed);
        } catch (Throwable e) {
            throw new EndFailure(EVALUATION, end(e, "the evaluation of the result in ONNX Runtime"));
        }
        try {
            Report report = JobReport.build(originalStats, compressedStats, steps, evaluation,
                    last.packed() ? java.util.OptionalLong.of(last.result().getBytesOut()) : java.util.OptionalLong.empty());
            BlobId reportId = blobs.put(report.toJson().getBytes(StandardCharsets.UTF_8));
            blobs.grant(spec.getTenant(), reportId);
            return JobCompleted.newBuilder()
                    .setResultModelId(last.result().getOutputModelId())
                    .setReportId(reportId.hex())
                    .setReport(Structs.toStruct(report))
                    .build();
        } catch (Throwable e) {
            throw new EndFailure(REPORT, end(e, "the job's report"));
        }
    }

    /** A failure after the last step, its message saying it came after the steps. */
    private static CondenseException end(Throwable failure, String what) {
        CondenseException error = Failures.classify(failure, what);
        if (failure instanceof CondenseException) {
            return new CondenseException(error.code(), what + " failed after the last step: " + error.getMessage(), failure);
        }
        return error;
    }

    private Map<String, Object> evaluate(StepRequested request, OnnxModel original, OnnxModel compressed) {
        if (request.getSpec().getSkipEvaluation()) {
            Map<String, Object> skipped = new LinkedHashMap<>();
            skipped.put("skipped", "not requested (skip_evaluation)");
            return skipped;
        }
        // a model over 2 GiB runs too: the evaluator gives ONNX Runtime a file with its external data, not one byte array
        Optional<Evaluator> runtime = evaluator.get();
        if (runtime.isEmpty()) {
            Map<String, Object> skipped = new LinkedHashMap<>();
            skipped.put("skipped", "no evaluator on this worker (condense-runtime is not on the classpath)");
            return skipped;
        }
        var spec = request.getSpec();
        Path folder;
        try {
            Files.createDirectories(scratchRoot);
            folder = Files.createTempDirectory(scratchRoot, request.getJobId() + "-evaluation-");
        } catch (java.io.IOException e) {
            throw new CondenseException(ErrorCode.UNAVAILABLE, "cannot create a scratch folder under " + scratchRoot + ": " + e.getMessage(), e);
        }
        try {
            Optional<Dataset> data = datasets.load(spec.getEvaluationDataId(), spec.getEvaluationLabelsId(), folder);
            EvaluationRequest evaluationRequest = data
                    .map(dataset -> new EvaluationRequest(Optional.of(dataset),
                            spec.getEvaluationSamples() > 0 ? spec.getEvaluationSamples() : MAX_EVALUATION_SAMPLES, LATENCY_RUNS, 42L))
                    .orElseGet(() -> EvaluationRequest.generated(GENERATED_SAMPLES).withLatencyRuns(LATENCY_RUNS))
                    .withLatencyMillis(Math.max(0, spec.getLatencyMs()));
            EvaluationResult result = runtime.get().compare(original, compressed, evaluationRequest);
            String source = data.isEmpty() ? "generated inputs"
                    : data.get().labels().isPresent() ? "evaluation data with labels" : "evaluation data";
            return JobReport.evaluation(result, source);
        } finally {
            Folders.deleteRecursively(folder);
        }
    }
}
