package io.condense.server.search;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

class KnobBracketTest {
    private static final Family RATIO = new Family("lowrank", "lowrank(ratio=%s)", 0.9, 0.1, Set.of("lowrank"));

    @Test
    void firstRoundTriesBothEndsAndTheMiddle() {
        assertThat(new KnobBracket(RATIO).first()).extracting(Candidate::pipeline)
                .containsExactly("lowrank(ratio=0.900)", "lowrank(ratio=0.500)", "lowrank(ratio=0.100)");
        Family single = Family.single("int8", "quantize(bits=8)", Set.of("quantize"));
        assertThat(new KnobBracket(single).first()).extracting(Candidate::pipeline).containsExactly("quantize(bits=8)");
    }

    @Test
    void bisectsBetweenTheMostAggressivePassAndTheMildestFailure() {
        KnobBracket bracket = new KnobBracket(RATIO);
        bracket.record(result(0.9, true));
        bracket.record(result(0.5, true));
        bracket.record(result(0.1, false));
        assertThat(bracket.next(2)).extracting(Candidate::knob).containsExactly(0.5 - 0.4 / 3, 0.5 - 0.8 / 3);
        // a threshold at 0.3: walk until the bracket is narrower than 3% of the range
        for (int round = 0; round < 10; round++) {
            for (Candidate candidate : bracket.next(2)) {
                bracket.record(result(candidate.knob(), candidate.knob() >= 0.3));
            }
        }
        assertThat(bracket.next(2)).isEmpty();
    }

    @Test
    void aFamilyThatNeverPassesStops() {
        KnobBracket bracket = new KnobBracket(RATIO);
        bracket.first().forEach(candidate -> bracket.record(result(candidate.knob(), false)));
        assertThat(bracket.next(2)).isEmpty();
    }

    @Test
    void aFailureMilderThanAPassDoesNotCloseTheBracket() {
        KnobBracket bracket = new KnobBracket(RATIO);
        bracket.record(result(0.9, false));
        bracket.record(result(0.5, true));
        bracket.record(result(0.1, false));
        assertThat(bracket.next(2)).extracting(Candidate::knob).containsExactly(0.5 - 0.4 / 3, 0.5 - 0.8 / 3);
    }

    static CandidateResult result(double knob, boolean meets) {
        Candidate candidate = RATIO.at(knob);
        return new CandidateResult(candidate, "job", "result", "completed", 1000, 10, 1, 1, 0.9, meets ? 0 : 0.1, meets ? 0 : 0.1, 30, 1,
                meets ? List.of() : List.of("accuracy drop"), Map.of());
    }
}
