package io.condense.server.search;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * The completed candidates no other one beats on both the objective (lower) and the quality (higher); of candidates with
 * the same two values (two knob values that give the same ranks) the first one.
 */
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
            boolean repeated = front.stream().anyMatch(kept -> kept.objective(objective) == candidate.objective(objective)
                    && kept.quality() == candidate.quality());
            if (!dominated && !repeated) {
                front.add(candidate);
            }
        }
        front.sort(Comparator.comparingDouble(r -> r.objective(objective)));
        return front;
    }
}
