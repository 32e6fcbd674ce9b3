package io.condense.server.search;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ParetoFrontTest {

    @Test
    void keepsOnlyCandidatesNothingBeatsOnBothAxes() {
        CandidateResult big = result("a", 1000, 0.95);
        CandidateResult small = result("b", 500, 0.93);
        CandidateResult dominated = result("c", 800, 0.92);
        CandidateResult tiny = result("d", 100, 0.50);
        CandidateResult failed = CandidateResult.notRun(new Candidate("e", Double.NaN, "e"), "", "failed", "boom", 0);
        assertThat(ParetoFront.of(List.of(big, small, dominated, tiny, failed), SearchSpec.Objective.SIZE))
                .extracting(r -> r.candidate().pipeline()).containsExactly("d", "b", "a");
    }

    @Test
    void identicalResultsAppearOnce() {
        assertThat(ParetoFront.of(List.of(result("a", 500, 0.9), result("b", 500, 0.9)), SearchSpec.Objective.SIZE)).hasSize(1);
    }

    private static CandidateResult result(String pipeline, long bytes, double quality) {
        return new CandidateResult(new Candidate("f", Double.NaN, pipeline), pipeline, "result", "completed", bytes, 10, 1, 1, quality, 0, 0, 30, 1,
                List.of(), Map.of());
    }
}
