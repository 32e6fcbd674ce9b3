package io.condense.server.search;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/** The completed candidates no other one beats on both the objective (lower) and the quality (higher). */
final class ParetoFront {
    private ParetoFront() {
    }

    static List<CandidateResult> of(List<CandidateResult> results, SearchSpec.Objective objective) {
        List<CandidateResult> completed = results.stream().filter(CandidateResult::completed)
                .filter(r -> !Double.isNaN(r.objective(objective)) && !Double.isNaN(r.quality())).toList();
        List<CandidateResult> front = new ArrayList<>();
        for (CandidateResult candidate : completed) {
            boolean dominated = completed.stream().anyMatch(other -> other != candidate
                    && other.objective(objective) <= candidate.objective(objective) && other.quality() >= candidate.quality()
                    && (other.objective(objective) < candidate.objective(objective) || other.quality() > candidate.quality()));
            if (!dominated) {
                front.add(candidate);
            }
        }
        front.sort(Comparator.comparingDouble(r -> r.objective(objective)));
        return front;
    }
}
