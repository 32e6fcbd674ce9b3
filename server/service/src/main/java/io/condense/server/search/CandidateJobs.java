package io.condense.server.search;

import static java.util.Objects.requireNonNull;

import io.condense.proto.v1.Job;
import io.condense.proto.v1.JobState;
import io.condense.proto.v1.SubmitRequest;
import io.condense.server.cli.CondenseClient;
import io.condense.server.cli.PipelineParser;
import io.grpc.StatusRuntimeException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;

/**
 * Runs candidates as ordinary jobs through the API, all of a round submitted at once so that every worker process takes
 * some. Each candidate's client request id is derived from the search's key and its pipeline, so a search started again
 * with the same key gets the jobs of the first run back (finished ones with their reports) instead of running them again:
 * the jobs' history in Kafka is the search's saved state.
 */
final class CandidateJobs implements CandidateRunner {
    private static final long POLL_MILLIS = 200;

    private final CondenseClient client;
    private final SubmitRequest base;
    private final String searchKey;
    private final SearchSpec spec;
    private final Consumer<String> log;
    private final BooleanSupplier cancelled;

    /**
     * @param base the model, data ids and evaluation settings every candidate shares (its steps are ignored)
     * @param searchKey what makes this search's request ids its own
     * @param cancelled true once the search is to stop: the candidates still running are then cancelled
     */
    CandidateJobs(CondenseClient client, SubmitRequest base, String searchKey, SearchSpec spec, Consumer<String> log,
            BooleanSupplier cancelled) {
        this.client = requireNonNull(client, "client is null");
        this.base = requireNonNull(base, "base is null");
        this.searchKey = requireNonNull(searchKey, "searchKey is null");
        this.spec = requireNonNull(spec, "spec is null");
        this.log = requireNonNull(log, "log is null");
        this.cancelled = requireNonNull(cancelled, "cancelled is null");
    }

    /** Submits every candidate, then waits for all of them until {@code deadlineMillis}; those still running then are cancelled. */
    @Override
    public List<CandidateResult> run(List<Candidate> candidates, long deadlineMillis) {
        Map<Candidate, String> jobs = new LinkedHashMap<>();
        Map<Candidate, CandidateResult> results = new LinkedHashMap<>();
        for (Candidate candidate : candidates) {
            try {
                SubmitRequest request = base.toBuilder().clearSteps().addAllSteps(PipelineParser.parse(candidate.pipeline()))
                        .setClientRequestId(requestId(candidate)).build();
                var answer = client.submit(request);
                jobs.put(candidate, answer.getJobId());
                log.accept((answer.getExisting() ? "resumed " : "submitted ") + answer.getJobId() + "  " + candidate.pipeline());
            } catch (StatusRuntimeException | IllegalArgumentException e) {
                String why = e instanceof StatusRuntimeException status
                        ? status.getStatus().getCode() + ": " + status.getStatus().getDescription() : e.getMessage();
                results.put(candidate, CandidateResult.notRun(candidate, "", "refused", why, 0));
            }
        }
        while (results.size() < candidates.size()) {
            boolean stopped = cancelled.getAsBoolean();
            for (Map.Entry<Candidate, String> entry : jobs.entrySet()) {
                if (results.containsKey(entry.getKey())) {
                    continue;
                }
                Job job = client.job(entry.getValue());
                if (isFinal(job.getState())) {
                    CandidateResult result = CandidateResult.of(entry.getKey(), job, spec);
                    results.put(entry.getKey(), result);
                    log.accept(SearchLog.line(result, spec));
                } else if (stopped || System.currentTimeMillis() >= deadlineMillis) {
                    client.cancel(entry.getValue());
                    results.put(entry.getKey(), stopped
                            ? CandidateResult.notRun(entry.getKey(), entry.getValue(), "cancelled", "the search was cancelled", 0)
                            : CandidateResult.notRun(entry.getKey(), entry.getValue(), "budget", "the search's budget ended before the job did", 0));
                }
            }
            if (results.size() < candidates.size()) {
                sleep();
            }
        }
        List<CandidateResult> ordered = new ArrayList<>();
        for (Candidate candidate : candidates) {
            ordered.add(results.get(candidate));
        }
        return ordered;
    }

    private String requestId(Candidate candidate) {
        return "search-" + searchKey + "-" + sha256(candidate.pipeline()).substring(0, 16);
    }

    private static boolean isFinal(JobState state) {
        return state == JobState.JOB_STATE_COMPLETED || state == JobState.JOB_STATE_FAILED || state == JobState.JOB_STATE_CANCELLED;
    }

    private static void sleep() {
        try {
            Thread.sleep(POLL_MILLIS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for the search's jobs", e);
        }
    }

    static String sha256(String text) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JVM", e);
        }
    }
}
