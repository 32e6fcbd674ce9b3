package io.condense.server.cli;

import static java.util.Objects.requireNonNull;

import io.condense.proto.v1.Job;
import io.condense.proto.v1.JobError;
import io.condense.proto.v1.JobState;
import io.condense.proto.v1.SubmitRequest;
import io.condense.proto.v1.SubmitResponse;
import io.condense.server.report.ReportPage;
import io.condense.server.report.Structs;
import io.condense.server.search.SearchKey;
import io.condense.server.search.SearchSpec;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * {@code condense compress --auto SPEC}: submits a search job (the server, or the embedded platform, runs the search;
 * its candidates are ordinary jobs on the workers), prints its progress, then writes the best candidate's model, the
 * report with the table of candidates and the Pareto front, and the HTML page. The job's client request id is derived
 * from the model, data, spec and budget (or {@code --request-id}), so the same command again answers the same search
 * job, still running or finished, instead of starting another.
 */
final class AutoCompress {
    private final io.condense.proto.v1.SearchSpec spec;
    private final String requestId;
    private final Path output;
    private final Path report;
    private final Path html;

    /** @param spec the search spec with its budget */
    AutoCompress(io.condense.proto.v1.SearchSpec spec, String requestId, Path output, Path report, Path html) {
        this.spec = requireNonNull(spec, "spec is null");
        this.requestId = requestId;
        this.output = requireNonNull(output, "output is null");
        this.report = report;
        this.html = html;
    }

    /**
     * Exit code: 0 the best candidate meets the constraints, 4 none does (the best found is still written), 1 the search
     * job failed (no candidate completed) or was cancelled, 2 it failed on its input.
     */
    int run(CondenseClient client, SubmitRequest base, PrintStream out, PrintStream err) throws IOException {
        SearchSpec search = SearchSpec.of(spec);
        SubmitRequest request = base.toBuilder().clearSteps().setSearch(spec).setSkipEvaluation(false).clearClientRequestId().build();
        String key = requestId != null ? requestId : "search-" + SearchKey.of(request, search, spec.getBudgetMs());
        err.printf(Locale.ROOT, "Searching (%s), budget %.0f s, request id %s%n", search.describe(), SearchSpec.budgetMillis(spec) / 1000.0,
                key);
        SubmitResponse answer = client.submit(request.toBuilder().setClientRequestId(key).build());
        String jobId = answer.getJobId();
        err.println((answer.getExisting() ? "Following the search job already submitted with this request id: " : "Search job ") + jobId);
        client.watch(jobId, event -> {
            if (event.hasProgress()) {
                err.println(event.getProgress().getMessage());
            }
        });
        Job job = client.job(jobId);
        if (job.getState() != JobState.JOB_STATE_COMPLETED) {
            JobError error = job.getError();
            err.println("condense: search job " + jobId + " ended " + job.getState().name().substring("JOB_STATE_".length())
                    + (job.hasError() ? ": " + error.getCode() + ": " + error.getMessage() : ""));
            return job.hasError() && CompressCommand.isBadInput(error) ? 2 : 1;
        }
        Map<String, Object> written = Structs.toMap(job.getReport());
        BundleReceiver.Written model = client.downloadResultModel(jobId, output);
        if (report != null) {
            Files.writeString(report, Structs.toJson(job.getReport()), StandardCharsets.UTF_8);
        }
        if (html != null) {
            Files.writeString(html, ReportPage.render(written), StandardCharsets.UTF_8);
        }
        Map<String, Object> outcome = map(written.get("search"));
        Map<String, Object> best = map(outcome.get("best"));
        boolean met = Boolean.TRUE.equals(outcome.get("met"));
        print(jobId, written, outcome, best, met, out);
        out.println("Wrote " + model.describe() + (report == null ? "" : ", " + report) + (html == null ? "" : ", " + html));
        if (!met) {
            err.println("condense: no candidate meets the constraints (" + search.describe() + "); the best found, written above, misses: "
                    + String.join("; ", list(best.get("failures")).stream().map(String::valueOf).toList()));
            return 4;
        }
        return 0;
    }

    private static void print(String jobId, Map<String, Object> report, Map<String, Object> outcome, Map<String, Object> best, boolean met,
            PrintStream out) {
        out.printf(Locale.ROOT, "Search %s: %d candidates in %s rounds, %.1f s; Pareto front %d (job %s)%n",
                met ? "met the constraints" : "found no candidate meeting the constraints", list(outcome.get("candidates")).size(),
                outcome.get("rounds"), number(outcome.get("elapsed_s")), list(outcome.get("pareto")).size(), jobId);
        double bytes = number(best.get("bytes"));
        out.printf(Locale.ROOT, "best: %s%n  %.0f bytes (%.2fx smaller than %.0f), quality %.4f (drop %.4f, upper bound %.4f), %.3f ms, job %s%n",
                best.get("pipeline"), bytes, number(report.get("original_bytes")) / bytes, number(report.get("original_bytes")),
                number(best.get("quality")), number(best.get("drop")), number(best.get("drop_bound")), number(best.get("latency_ms")), best.get("job_id"));
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> map(Object value) {
        return value instanceof Map<?, ?> map ? (Map<String, Object>) map : Map.of();
    }

    private static List<?> list(Object value) {
        return value instanceof List<?> list ? list : List.of();
    }

    private static double number(Object value) {
        return value instanceof Number number ? number.doubleValue() : Double.NaN;
    }

    /** {@code 10m}, {@code 90s}, {@code 1h}, or plain seconds. */
    static long budgetMillis(String text) {
        return DurationText.parse("--budget", text).toMillis();
    }
}
