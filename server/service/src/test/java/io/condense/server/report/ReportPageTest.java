package io.condense.server.report;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ReportPageTest {

    /** A search report as {@code compress --auto} writes it, small: two candidates, one sensitivity curve. */
    static Map<String, Object> searchReport() {
        Map<String, Object> best = Map.of("pipeline", "lowrank(ratio=0.333) | quantize(bits=4, granularity=block)", "job_id", "j2",
                "state", "completed", "bytes", 10104, "quality", 0.9858, "drop", 0.0033, "meets", true);
        Map<String, Object> other = Map.of("pipeline", "quantize(bits=8)", "job_id", "j1", "state", "completed", "bytes", 24589,
                "quality", 0.9892, "drop", -0.0001, "meets", true);
        Map<String, Object> failed = Map.of("pipeline", "lowrank(ratio=0.050) | quantize(bits=4, granularity=block)", "job_id", "j3",
                "state", "completed", "bytes", 8598, "quality", 0.2081, "drop", 0.781, "meets", false,
                "failures", List.of("accuracy drop 0.7810 > 0.0050 <b>"));
        Map<String, Object> search = Map.of("spec", "objective=size, max_drop=0.005", "objective", "size", "met", true,
                "elapsed_s", 71.4, "budget_s", 240.0, "rounds", 4, "best", best, "candidates", List.of(other, best, failed),
                "pareto", List.of(failed, best, other), "sensitivity", Map.of("metric", "accuracy", "baseline", 0.989,
                        "layers", List.of(Map.of("name", "fc1", "accuracy", Map.of("0.50", 0.988, "0.90", 0.95)))));
        Map<String, Object> lowrankLayer = Map.of("name", "fc1", "status", "factorised", "rank", 12, "max_rank", 50);
        Map<String, Object> steps = Map.of("step", 1, "technique", "lowrank", "bytes_out", 30000,
                "report", Map.of("layers", List.of(lowrankLayer)));
        return Map.of("original_bytes", 88469, "compressed_bytes", 10104, "ratio", 8.76, "original_params", 21840, "params", 9000,
                "original_macs", 480500, "macs", 468940, "steps", List.of(steps), "evaluation", Map.of("accuracy_before", 0.9891,
                        "accuracy_after", 0.9858, "top1_agreement", 0.99, "sqnr_db", 24.4, "latency_ms_before", 0.05,
                        "latency_ms_after", 0.049, "samples", 10000, "data", "evaluation data with labels"), "search", search);
    }

    @Test
    void aSearchPageHasEveryChartAndTheTable() {
        String page = ReportPage.render(searchReport());
        assertThat(page).startsWith("<!DOCTYPE html>").contains("<svg id=\"pareto\"", "<svg id=\"sensitivity\"",
                "<svg id=\"size-breakdown\"", "<table id=\"candidates\"", "<table id=\"summary\"", "rank 12 of 50",
                "accuracy drop 0.7810 &gt; 0.0050 &lt;b&gt;");
        assertThat(page).doesNotContain("<script", "http://", "https://");
        assertThat(page.split("<tr class=\"best meets\"", -1)).hasSize(2);
    }

    @Test
    void aSingleJobPageHasNoSearchParts() {
        Map<String, Object> job = new java.util.HashMap<>(searchReport());
        job.remove("search");
        String page = ReportPage.render(job);
        assertThat(page).contains("<table id=\"summary\"", "<svg id=\"size-breakdown\"").doesNotContain("id=\"pareto\"",
                "id=\"candidates\"");
    }
}
