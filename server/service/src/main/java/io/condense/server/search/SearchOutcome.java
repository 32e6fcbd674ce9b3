package io.condense.server.search;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * What a search found: every candidate, the best one, whether it meets the constraints, and the sensitivity job.
 *
 * @param rounds rounds run
 */
public record SearchOutcome(SearchSpec spec, List<CandidateResult> candidates, Optional<CandidateResult> best,
        Optional<CandidateResult> sensitivity, long elapsedMillis, long budgetMillis, int rounds) {

    public SearchOutcome {
        candidates = List.copyOf(candidates);
    }

    public boolean met() {
        return best.map(CandidateResult::meets).orElse(false);
    }

    public List<CandidateResult> pareto() {
        return ParetoFront.of(candidates, spec.objective());
    }

    /** The report's {@code search} section. */
    public Map<String, Object> toMap() {
        Map<String, Object> search = new LinkedHashMap<>();
        search.put("spec", spec.describe());
        search.put("objective", spec.objective().name().toLowerCase(java.util.Locale.ROOT));
        search.put("met", met());
        search.put("elapsed_s", elapsedMillis / 1000.0);
        search.put("budget_s", budgetMillis / 1000.0);
        search.put("rounds", rounds);
        best.ifPresent(b -> search.put("best", b.toMap()));
        search.put("candidates", candidates.stream().map(CandidateResult::toMap).toList());
        search.put("pareto", pareto().stream().map(CandidateResult::toMap).toList());
        sensitivity.filter(CandidateResult::completed).ifPresent(s -> search.put("sensitivity", sensitivityTable(s)));
        return search;
    }

    /** The prune step's per-layer table: layer name and the metric at each measured sparsity, with the baseline. */
    private static Map<String, Object> sensitivityTable(CandidateResult sensitivity) {
        Map<String, Object> table = new LinkedHashMap<>();
        Object steps = sensitivity.report().get("steps");
        if (steps instanceof List<?> list && !list.isEmpty()) {
            Map<String, Object> report = CandidateResult.map(CandidateResult.map(list.get(0)).get("report"));
            table.put("metric", report.get("sensitivity_metric"));
            table.put("baseline", report.get("sensitivity_baseline"));
            table.put("layers", report.get("sensitivity"));
        }
        table.put("job_id", sensitivity.jobId());
        return table;
    }
}
