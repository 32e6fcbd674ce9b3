package io.condense.server.search;

import static java.util.Objects.requireNonNull;

import io.condense.proto.v1.JobError;
import io.condense.proto.v1.StepResult;
import io.condense.proto.v1.SubmitRequest;
import io.condense.proto.v1.events.BusEvent;
import io.condense.proto.v1.events.JobCancelled;
import io.condense.proto.v1.events.JobCompleted;
import io.condense.proto.v1.events.JobFailed;
import io.condense.proto.v1.events.JobSpec;
import io.condense.proto.v1.events.Progress;
import io.condense.proto.v1.events.StepCompleted;
import io.condense.proto.v1.events.StepRequested;
import io.condense.proto.v1.events.StepStarted;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.server.blob.BlobId;
import io.condense.server.blob.BlobStore;
import io.condense.server.bus.EventSink;
import io.condense.server.bus.Events;
import io.condense.server.cli.CondenseClient;
import io.condense.server.report.Structs;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.function.Predicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs the one step of a search job: the {@link Search} through the API as the job's tenant (candidates are ordinary jobs
 * on the step workers), its log as the job's progress events, and its outcome as the events that end the job: the step's
 * result and the job's completion with the best candidate's model and the report (the best candidate's report plus
 * {@code search}); the job's failure when no candidate completed; its cancellation when it was cancelled. The search key
 * is the job id, so running the step again after a restart resumes it: every candidate already submitted answers from
 * its job.
 */
public final class SearchStep {
    /** The technique name of a search job's one step, and its step topic's suffix. */
    public static final String TECHNIQUE = "search";

    private static final Logger log = LoggerFactory.getLogger(SearchStep.class);

    private final BlobStore blobs;
    private final Function<String, CondenseClient> clients;
    private final EventSink events;
    private final Predicate<String> cancelled;
    private final String worker;

    /**
     * @param clients a client of this process's API calling as the given tenant
     * @param events where the step's started and progress events go (not durable; the outcome is returned)
     * @param cancelled whether a job was asked to stop
     * @param worker this process's name, for the step's started event
     */
    public SearchStep(BlobStore blobs, Function<String, CondenseClient> clients, EventSink events, Predicate<String> cancelled,
            String worker) {
        this.blobs = requireNonNull(blobs, "blobs is null");
        this.clients = requireNonNull(clients, "clients is null");
        this.events = requireNonNull(events, "events is null");
        this.cancelled = requireNonNull(cancelled, "cancelled is null");
        this.worker = requireNonNull(worker, "worker is null");
    }

    /** The events that end the search job of {@code request}, in order; never throws for a problem of the job. */
    public List<BusEvent> run(StepRequested request) {
        String jobId = request.getJobId();
        if (cancelled.test(jobId)) {
            return List.of(cancelledEvent(jobId));
        }
        events.send(Events.event(jobId).setStepStarted(StepStarted.newBuilder().setStepIndex(0).setTechnique(TECHNIQUE).setAttempt(1)
                .setWorker(worker)).build());
        long started = System.currentTimeMillis();
        JobSpec spec = request.getSpec();
        try (CondenseClient client = clients.apply(spec.getTenant())) {
            SearchSpec search = SearchSpec.of(spec.getSearch());
            long budget = SearchSpec.budgetMillis(spec.getSearch());
            Search runner = new Search(client, candidateBase(spec, search), jobId, search, line -> progress(jobId, started, budget, line),
                    () -> cancelled.test(jobId));
            SearchOutcome outcome = runner.run(!spec.getCalibrationDataId().isEmpty(), !spec.getTrainDataId().isEmpty(), budget);
            if (cancelled.test(jobId)) {
                return List.of(cancelledEvent(jobId));
            }
            if (outcome.best().isEmpty()) {
                return List.of(failed(jobId, new CondenseException(ErrorCode.RESOURCE_EXHAUSTED, "no candidate completed within the "
                        + "budget of " + budget / 1000 + " s (" + outcome.candidates().size() + " tried: " + failures(outcome)
                        + "); give the search a longer budget")));
            }
            return completed(request, outcome, System.currentTimeMillis() - started);
        } catch (IllegalArgumentException e) {
            return List.of(failed(jobId, new CondenseException(ErrorCode.INVALID_PARAMETER, e.getMessage(), e)));
        } catch (RuntimeException e) {
            log.error("Search job {} failed", jobId, e);
            return List.of(failed(jobId, new CondenseException(ErrorCode.INTERNAL_ERROR, "the search failed: " + e, e)));
        }
    }

    /**
     * What every candidate shares: the model, the data, an evaluation on every evaluation sample, and, when candidates are
     * ranked or constrained by latency, at least {@link Search#LATENCY_MS} of timing each.
     */
    static SubmitRequest candidateBase(JobSpec spec, SearchSpec search) {
        return SubmitRequest.newBuilder().setModelId(spec.getModelId()).setEvaluationDataId(spec.getEvaluationDataId())
                .setEvaluationLabelsId(spec.getEvaluationLabelsId()).setCalibrationDataId(spec.getCalibrationDataId())
                .setTrainDataId(spec.getTrainDataId()).setTrainLabelsId(spec.getTrainLabelsId())
                .setEvaluationSamples(spec.getEvaluationSamples() > 0 ? spec.getEvaluationSamples() : Search.EVALUATION_SAMPLES)
                .setLatencyMs(search.judgesLatency() ? Search.LATENCY_MS : 0)
                .build();
    }

    private void progress(String jobId, long started, long budget, String line) {
        double fraction = Math.min(1.0, (System.currentTimeMillis() - started) / (double) budget);
        events.send(Events.event(jobId).setProgress(Progress.newBuilder().setStepIndex(0).setTechnique(TECHNIQUE).setFraction(fraction)
                .setMessage(line)).build());
    }

    private List<BusEvent> completed(StepRequested request, SearchOutcome outcome, long millis) {
        String jobId = request.getJobId();
        CandidateResult best = outcome.best().orElseThrow();
        Map<String, Object> report = new LinkedHashMap<>(best.report());
        Map<String, Object> section = outcome.toMap();
        report.put("search", section);
        var struct = Structs.toStruct(report);
        BlobId reportId = blobs.put(Structs.toJson(struct).getBytes(StandardCharsets.UTF_8));
        blobs.grant(request.getSpec().getTenant(), reportId);
        Object original = best.report().get("original_bytes");
        StepResult result = StepResult.newBuilder().setStep(1).setTechnique(TECHNIQUE)
                .putAllParameters(Map.of("spec", SearchSpec.of(request.getSpec().getSearch()).describe(),
                        "budget_s", Long.toString(SearchSpec.budgetMillis(request.getSpec().getSearch()) / 1000)))
                .setOutputModelId(best.resultModelId()).setDurationMs(millis)
                .setBytesIn(original instanceof Number number ? number.longValue() : 0).setBytesOut(best.bytes())
                .setReport(Structs.toStruct(section)).build();
        log.info("Search job {} ended: {} candidates in {} rounds, best {} ({} bytes, {})", jobId, outcome.candidates().size(),
                outcome.rounds(), best.candidate().pipeline(), best.bytes(), outcome.met() ? "meets the constraints" : "misses them");
        return List.of(
                Events.event(jobId).setStepCompleted(StepCompleted.newBuilder().setStepIndex(0).setResult(result)).build(),
                Events.event(jobId).setJobCompleted(JobCompleted.newBuilder().setResultModelId(best.resultModelId())
                        .setReportId(reportId.hex()).setReport(struct)).build());
    }

    private static String failures(SearchOutcome outcome) {
        return String.join("; ", outcome.candidates().stream().limit(5)
                .map(c -> c.candidate().pipeline() + ": " + String.join(", ", c.failures())).toList())
                + (outcome.candidates().size() > 5 ? "; ..." : "");
    }

    private static BusEvent failed(String jobId, CondenseException error) {
        JobError reported = Events.error(1, TECHNIQUE, error);
        return Events.event(jobId).setJobFailed(JobFailed.newBuilder().setError(reported)).build();
    }

    private static BusEvent cancelledEvent(String jobId) {
        return Events.event(jobId).setJobCancelled(JobCancelled.newBuilder().setStepIndex(0)
                .setReason("cancelled by a client; the candidates still running were cancelled")).build();
    }
}
