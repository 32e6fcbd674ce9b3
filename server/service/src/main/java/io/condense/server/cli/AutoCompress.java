package io.condense.server.cli;

import static java.util.Objects.requireNonNull;

import io.condense.proto.v1.SubmitRequest;
import io.condense.server.report.ReportPage;
import io.condense.server.report.Structs;
import io.condense.server.search.CandidateResult;
import io.condense.server.search.Search;
import io.condense.server.search.SearchKey;
import io.condense.server.search.SearchOutcome;
import io.condense.server.search.SearchSpec;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * {@code condense compress --auto SPEC}: runs the accuracy-aware search through the API (candidates as ordinary jobs on
 * the server's workers, or the embedded platform's), then writes the best candidate's model, the report with the table of
 * candidates and the Pareto front, and the HTML page.
 */
final class AutoCompress {
    /** Evaluation samples per candidate: every sample of the evaluation data up to this many. */
    static final int EVALUATION_SAMPLES = 100_000;

    private final SearchSpec spec;
    private final long budgetMillis;
    private final String requestId;
    private final Path output;
    private final Path report;
    private final Path html;

    AutoCompress(SearchSpec spec, long budgetMillis, String requestId, Path output, Path report, Path html) {
        this.spec = requireNonNull(spec, "spec is null");
        this.budgetMillis = budgetMillis;
        this.requestId = requestId;
        this.output = requireNonNull(output, "output is null");
        this.report = report;
        this.html = html;
    }

    /** Exit code: 0 the best candidate meets the constraints, 4 none does (the best found is still written), 1 none completed. */
    int run(CondenseClient client, SubmitRequest base, PrintStream out, PrintStream err) throws IOException {
        SubmitRequest request = base.toBuilder().setEvaluationSamples(EVALUATION_SAMPLES).setSkipEvaluation(false)
                .clearClientRequestId().build();
        String key = requestId != null ? requestId : SearchKey.of(request, spec, budgetMillis);
        err.printf(Locale.ROOT, "Searching (%s), budget %.0f s, search key %s%n", spec.describe(), budgetMillis / 1000.0, key);
        SearchOutcome outcome = new Search(client, request, key, spec, err::println)
                .run(!base.getCalibrationDataId().isEmpty(), !base.getTrainDataId().isEmpty(), budgetMillis);
        if (outcome.best().isEmpty()) {
            err.println("condense: no candidate completed within the budget; the table is in the report");
            writeReport(outcome, Map.of());
            return 1;
        }
        CandidateResult best = outcome.best().get();
        BundleReceiver.Written written = client.downloadResultModel(best.jobId(), output);
        Map<String, Object> merged = writeReport(outcome, best.report());
        if (html != null) {
            Files.writeString(html, ReportPage.render(merged), StandardCharsets.UTF_8);
        }
        print(outcome, best, out);
        out.println("Wrote " + written.describe() + (report == null ? "" : ", " + report)
                + (html == null ? "" : ", " + html));
        if (!outcome.met()) {
            err.println("condense: no candidate meets the constraints (" + spec.describe()
                    + "); the best found, written above, misses: " + String.join("; ", best.failures()));
            return 4;
        }
        return 0;
    }

    private Map<String, Object> writeReport(SearchOutcome outcome, Map<String, Object> bestReport) throws IOException {
        Map<String, Object> merged = new LinkedHashMap<>(bestReport);
        merged.put("search", outcome.toMap());
        if (report != null) {
            Files.writeString(report, Structs.toJson(Structs.toStruct(merged)), StandardCharsets.UTF_8);
        }
        return merged;
    }

    private void print(SearchOutcome outcome, CandidateResult best, PrintStream out) {
        out.printf(Locale.ROOT, "Search %s: %d candidates in %d rounds, %.1f s; Pareto front %d%n",
                outcome.met() ? "met the constraints" : "found no candidate meeting the constraints", outcome.candidates().size(),
                outcome.rounds(), outcome.elapsedMillis() / 1000.0, outcome.pareto().size());
        Object original = best.report().get("original_bytes");
        out.printf(Locale.ROOT, "best: %s%n  %d bytes (%.2fx smaller than %s), quality %.4f (drop %.4f), %.3f ms, job %s%n",
                best.candidate().pipeline(), best.bytes(),
                original instanceof Number number ? number.doubleValue() / best.bytes() : Double.NaN, original, best.quality(),
                best.drop(), best.latencyMs(), best.jobId());
    }

    /** {@code 10m}, {@code 90s}, {@code 1h}, or plain seconds. */
    static long budgetMillis(String text) {
        return DurationText.parse("--budget", text).toMillis();
    }
}
