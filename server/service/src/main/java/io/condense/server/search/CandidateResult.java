package io.condense.server.search;

import static java.util.Objects.requireNonNull;

import io.condense.proto.v1.Job;
import io.condense.proto.v1.JobState;
import io.condense.server.report.Structs;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * What one candidate's job measured, read from its report: size, MACs, latency and quality, and whether it meets the
 * search's constraints (with the reasons when it does not).
 *
 * @param candidate the pipeline
 * @param jobId the job that ran it
 * @param resultModelId the job's result model (empty when it did not complete)
 * @param state completed, failed, cancelled, or {@code budget} when the budget ended before it did
 * @param bytes result size in bytes (a packed file's size when the pipeline ends with encode)
 * @param macs multiply-accumulates of the result
 * @param latencyMs median single-sample latency of the result in ONNX Runtime (NaN when not measured)
 * @param latencyRatio that latency over the original model's, measured in the same evaluation (NaN when not measured)
 * @param quality accuracy on the labelled evaluation data, else top-1 agreement with the original (NaN when failed)
 * @param drop quality lost against the original model, as measured
 * @param dropBound one-sided upper confidence bound on the drop at the spec's confidence ({@link DropBound}): what the constraint is checked
 *        against, so that a candidate whose measured drop was merely lucky is not accepted (NaN when not measured)
 * @param sqnrDb output SQNR against the original model
 * @param seconds from submission to the end of the job
 * @param failures the constraints it misses, or why it did not complete; empty when it meets them all
 * @param report the job's whole report (empty when it did not complete)
 */
public record CandidateResult(Candidate candidate, String jobId, String resultModelId, String state, long bytes, long macs, double latencyMs,
        double latencyRatio, double quality, double drop, double dropBound, double sqnrDb, double seconds, List<String> failures, Map<String, Object> report) {

    public CandidateResult {
        requireNonNull(candidate, "candidate is null");
        requireNonNull(resultModelId, "resultModelId is null");
        failures = List.copyOf(failures);
        report = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(report));
    }

    public boolean completed() {
        return state.equals("completed");
    }

    public boolean meets() {
        return completed() && failures.isEmpty();
    }

    /**
     * The value the search minimises. Latency is the ratio to the original model's latency measured in the same job, so
     * that candidates measured while the machine was busier or idler compare fairly.
     */
    public double objective(SearchSpec.Objective objective) {
        return switch (objective) {
            case SIZE -> bytes;
            case MACS -> macs;
            case LATENCY -> latencyRatio;
        };
    }

    static CandidateResult notRun(Candidate candidate, String jobId, String state, String why, double seconds) {
        return new CandidateResult(candidate, jobId, "", state, 0, 0, Double.NaN, Double.NaN, Double.NaN, Double.NaN, Double.NaN, Double.NaN,
                seconds, List.of(why), Map.of());
    }

    /** Reads a finished job. */
    static CandidateResult of(Candidate candidate, Job job, SearchSpec spec) {
        double seconds = Math.max(0, job.getFinishedAtMs() - job.getSubmittedAtMs()) / 1000.0;
        if (job.getState() != JobState.JOB_STATE_COMPLETED) {
            String state = job.getState().name().substring("JOB_STATE_".length()).toLowerCase(Locale.ROOT);
            String why = job.hasError() ? job.getError().getCode() + ": " + job.getError().getMessage() : state;
            return notRun(candidate, job.getJobId(), state, why, seconds);
        }
        Map<String, Object> report = Structs.toMap(job.getReport());
        Map<String, Object> evaluation = map(report.get("evaluation"));
        double accuracyBefore = number(evaluation.get("accuracy_before"));
        double accuracyAfter = number(evaluation.get("accuracy_after"));
        double agreement = number(evaluation.get("top1_agreement"));
        boolean labelled = !Double.isNaN(accuracyAfter);
        double quality = labelled ? accuracyAfter : agreement;
        double drop = labelled ? accuracyBefore - accuracyAfter : 1 - agreement;
        double dropBound = dropBound(evaluation, labelled, drop, spec.z());
        double sqnr = number(evaluation.get("sqnr_db"));
        long bytes = (long) number(report.get("compressed_bytes"));
        long macs = (long) number(report.get("macs"));
        double latency = number(evaluation.get("latency_ms_after"));
        double latencyRatio = latency / number(evaluation.get("latency_ms_before"));
        List<String> failures = new ArrayList<>();
        if (spec.minSqnrDb().isPresent()) {
            if (!(sqnr >= spec.minSqnrDb().getAsDouble())) {
                failures.add(String.format(Locale.ROOT, "output SQNR %.1f dB < %.1f dB", sqnr, spec.minSqnrDb().getAsDouble()));
            }
        } else if (Double.isNaN(dropBound) || dropBound > spec.maxDrop()) {
            failures.add(String.format(Locale.ROOT, "%s drop %.4f, its upper bound %.4f > %.4f", labelled ? "accuracy" : "top-1 agreement",
                    drop, dropBound, spec.maxDrop()));
        }
        if (spec.maxBytes().isPresent() && bytes > spec.maxBytes().getAsLong()) {
            failures.add("size " + bytes + " > " + spec.maxBytes().getAsLong() + " bytes");
        }
        if (spec.maxLatencyMs().isPresent() && !(latency <= spec.maxLatencyMs().getAsDouble())) {
            failures.add(String.format(Locale.ROOT, "latency %.3f ms > %.3f ms", latency, spec.maxLatencyMs().getAsDouble()));
        }
        return new CandidateResult(candidate, job.getJobId(), job.getResultModelId(), "completed", bytes, macs, latency, latencyRatio, quality, drop, dropBound, sqnr,
                seconds, failures, report);
    }

    /**
     * The drop's upper bound from the evaluation's counts: the paired standard error from the discordant samples when the
     * report has them, else the unpaired one (larger); for top-1 agreement the share of samples whose class changed.
     */
    static double dropBound(Map<String, Object> evaluation, boolean labelled, double drop, double z) {
        double samples = number(evaluation.get("samples"));
        if (Double.isNaN(drop) || !(samples >= 1)) {
            return Double.NaN;
        }
        long n = (long) samples;
        if (!labelled) {
            return DropBound.upper(drop, DropBound.pairedStandardError(drop * n, 0, n), z);
        }
        double lost = number(evaluation.get("samples_lost"));
        double gained = number(evaluation.get("samples_gained"));
        double standardError = Double.isNaN(lost) || Double.isNaN(gained)
                ? DropBound.unpairedStandardError(number(evaluation.get("accuracy_before")), number(evaluation.get("accuracy_after")), n)
                : DropBound.pairedStandardError(lost, gained, n);
        return DropBound.upper(drop, standardError, z);
    }

    /** One row of the report's table. */
    Map<String, Object> toMap() {
        Map<String, Object> row = new LinkedHashMap<>();
        row.put("family", candidate.family());
        if (!Double.isNaN(candidate.knob())) {
            row.put("knob", candidate.knob());
        }
        row.put("pipeline", candidate.pipeline());
        row.put("job_id", jobId);
        row.put("state", state);
        if (completed()) {
            row.put("bytes", bytes);
            row.put("macs", macs);
            row.put("latency_ms", latencyMs);
            row.put("latency_ratio", latencyRatio);
            row.put("quality", quality);
            row.put("drop", drop);
            row.put("drop_bound", dropBound);
            row.put("sqnr_db", sqnrDb);
        }
        row.put("seconds", seconds);
        row.put("meets", meets());
        if (!failures.isEmpty()) {
            row.put("failures", failures);
        }
        return row;
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> map(Object value) {
        return value instanceof Map<?, ?> map ? (Map<String, Object>) map : Map.of();
    }

    static double number(Object value) {
        return value instanceof Number number ? number.doubleValue() : Double.NaN;
    }
}
