package io.condense.server.search;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import io.condense.proto.v1.Job;
import io.condense.proto.v1.JobState;
import io.condense.server.report.Structs;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

class DropBoundTest {
    /** The spec a user types: the default confidence, 0.99. */
    private static final SearchSpec HALF_A_POINT = SearchSpec.of(SearchSpec.parse("max_drop=0.005, objective=size"));
    /** The standard normal's 0.99 quantile. */
    private static final double Z99 = 2.3263479;
    private static final Candidate CANDIDATE = new Candidate("f", 0.9, "prune(sparsity=0.900)");

    @Test
    void pairedStandardErrorByHand() {
        // 150 samples lost, 127 gained of 5,000: with half a sample added to each cell, b = 150.5, c = 127.5, n = 5,002:
        // sqrt(278 - 23^2 / 5002) / 5002 = sqrt(277.894243) / 5002 = 16.670160 / 5002 = 0.0033327
        assertThat(DropBound.pairedStandardError(150, 127, 5000)).isCloseTo(0.0033327, within(1e-7));
        // the bound: 23 / 5000 + 2.3263 * 0.0033327
        assertThat(DropBound.upper(0.0046, 0.0033327, Z99)).isCloseTo(0.0123530, within(1e-6));
        // nothing changed on 20 samples: still a margin (1 / 22 standard error), not a zero-width bound
        assertThat(DropBound.pairedStandardError(0, 0, 20)).isCloseTo(1.0 / 22, within(1e-12));
    }

    @Test
    void theConfidenceSetsZ() {
        assertThat(HALF_A_POINT.confidence()).isEqualTo(0.99);
        assertThat(HALF_A_POINT.z()).isCloseTo(Z99, within(1e-6));
        assertThat(DropBound.z(0.5)).isCloseTo(0, within(1e-9));
        assertThat(DropBound.z(0.95)).isCloseTo(1.6448536, within(1e-6));
        assertThat(DropBound.z(0.975)).isCloseTo(1.9599640, within(1e-6));
        assertThatThrownBy(() -> DropBound.z(1)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> DropBound.z(0.4)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void confidenceHalfJudgesTheMeasuredDropAloneAndAHigherOneIsStricter() {
        Job job = job(labelled(5000, 0.8900, 0.8890, 55, 50));
        // drop 0.1 points, se sqrt(106 - 25 / 5002) / 5002 = 0.0020583
        SearchSpec plain = SearchSpec.of(SearchSpec.parse("max_drop=0.005, confidence=0.5"));
        assertThat(CandidateResult.of(CANDIDATE, job, plain).dropBound()).isCloseTo(0.001, within(1e-9));
        CandidateResult lenient = CandidateResult.of(CANDIDATE, job, SearchSpec.of(SearchSpec.parse("max_drop=0.005, confidence=0.95")));
        assertThat(lenient.dropBound()).isCloseTo(0.001 + 1.6448536 * 0.0020583, within(1e-6));
        assertThat(lenient.meets()).isTrue();
        CandidateResult strict = CandidateResult.of(CANDIDATE, job, HALF_A_POINT);
        assertThat(strict.dropBound()).isCloseTo(0.001 + Z99 * 0.0020583, within(1e-6));
        assertThat(strict.meets()).isFalse();
    }

    @Test
    void refusesImpossibleCounts() {
        assertThatThrownBy(() -> DropBound.pairedStandardError(3, 0, 0)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> DropBound.pairedStandardError(60, 50, 100)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> DropBound.pairedStandardError(-1, 0, 100)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void aDropJustUnderTheConstraintWithAWideBoundIsRefused() {
        // measured drop 0.46 points on 5,000 samples (the search's choice that lost 1.14 points on the test images)
        CandidateResult result = CandidateResult.of(CANDIDATE, job(labelled(5000, 0.8900, 0.8854, 150, 127)), HALF_A_POINT);
        assertThat(result.drop()).isCloseTo(0.0046, within(1e-9));
        assertThat(result.dropBound()).isCloseTo(0.0123530, within(1e-6));
        assertThat(result.meets()).isFalse();
        assertThat(result.failures()).containsExactly("accuracy drop 0.0046, its upper bound 0.0124 > 0.0050");
        assertThat(result.toMap()).containsEntry("drop_bound", result.dropBound()).containsEntry("meets", false);
        assertThat(SearchLog.line(result, HALF_A_POINT)).contains("misses").contains("drop +0.0046, bound +0.0124");
    }

    @Test
    void theSameDropOnTenTimesTheSamplesIsAccepted() {
        // 0.3 points: 40 lost and 25 gained of 5,000 has a bound of 0.68 points, 400 and 250 of 50,000 one of 0.42
        assertThat(CandidateResult.of(CANDIDATE, job(labelled(5000, 0.8900, 0.8870, 40, 25)), HALF_A_POINT).meets()).isFalse();
        CandidateResult result = CandidateResult.of(CANDIDATE, job(labelled(50_000, 0.8900, 0.8870, 400, 250)), HALF_A_POINT);
        assertThat(result.dropBound()).isCloseTo(0.0041867, within(1e-6));
        assertThat(result.meets()).isTrue();
    }

    @Test
    void aCandidateThatWinsSamplesBackHasANegativeDropAndANarrowBound() {
        // 40 lost, 45 gained of 5,000: drop -0.1 points, se sqrt(86 - 25/5002) / 5002 = 0.0018539
        CandidateResult result = CandidateResult.of(CANDIDATE, job(labelled(5000, 0.8900, 0.8910, 40, 45)), HALF_A_POINT);
        assertThat(result.dropBound()).isCloseTo(-0.001 + Z99 * 0.0018539, within(1e-6));
        assertThat(result.meets()).isTrue();
    }

    @Test
    void topOneAgreementIsBoundedTheSameWay() {
        // no labels: 10 of 5,000 samples changed class: drop 0.002, se sqrt(11 - 100 / 5002) / 5002 = 0.00066246
        CandidateResult many = CandidateResult.of(CANDIDATE, job(unlabelled(5000, 0.998)), HALF_A_POINT);
        assertThat(many.dropBound()).isCloseTo(0.0035411, within(1e-6));
        assertThat(many.meets()).isTrue();
        // 4 of 1,000 changed: drop 0.004 is within 0.005, but the bound (0.0092) is not
        CandidateResult few = CandidateResult.of(CANDIDATE, job(unlabelled(1000, 0.996)), HALF_A_POINT);
        assertThat(few.dropBound()).isCloseTo(0.0091832, within(1e-6));
        assertThat(few.meets()).isFalse();
        assertThat(few.failures()).containsExactly("top-1 agreement drop 0.0040, its upper bound 0.0092 > 0.0050");
    }

    @Test
    void aReportWithoutDiscordantCountsGetsTheWiderUnpairedBound() {
        Map<String, Object> evaluation = labelled(5000, 0.8900, 0.8854, 150, 127);
        evaluation.remove("samples_lost");
        evaluation.remove("samples_gained");
        CandidateResult result = CandidateResult.of(CANDIDATE, job(evaluation), HALF_A_POINT);
        // sqrt((0.89 * 0.11 + 0.8854 * 0.1146) / 5000) = 0.0063145
        assertThat(result.dropBound()).isCloseTo(0.0046 + Z99 * 0.0063145, within(1e-6));
        assertThat(result.dropBound()).isGreaterThan(DropBound.upper(0.0046, DropBound.pairedStandardError(150, 127, 5000), Z99));
    }

    @Test
    void theSqnrConstraintIsUnchanged() {
        SearchSpec sqnr = SearchSpec.of(SearchSpec.parse("objective=latency, min_sqnr=20"));
        Map<String, Object> evaluation = unlabelled(16, 0.5);
        evaluation.put("sqnr_db", 25.0);
        assertThat(CandidateResult.of(CANDIDATE, job(evaluation), sqnr).meets()).isTrue();
        evaluation.put("sqnr_db", 19.0);
        assertThat(CandidateResult.of(CANDIDATE, job(evaluation), sqnr).failures()).containsExactly("output SQNR 19.0 dB < 20.0 dB");
    }

    private static Map<String, Object> labelled(int samples, double before, double after, long lost, long gained) {
        Map<String, Object> evaluation = unlabelled(samples, 0.99);
        evaluation.put("accuracy_before", before);
        evaluation.put("accuracy_after", after);
        evaluation.put("samples_lost", lost);
        evaluation.put("samples_gained", gained);
        return evaluation;
    }

    private static Map<String, Object> unlabelled(int samples, double agreement) {
        Map<String, Object> evaluation = new LinkedHashMap<>();
        evaluation.put("samples", samples);
        evaluation.put("top1_agreement", agreement);
        evaluation.put("sqnr_db", 30.0);
        return evaluation;
    }

    private static Job job(Map<String, Object> evaluation) {
        Map<String, Object> report = Map.of("compressed_bytes", 1000, "macs", 10, "evaluation", evaluation);
        return Job.newBuilder().setJobId("job").setState(JobState.JOB_STATE_COMPLETED).setResultModelId("result")
                .setReport(Structs.toStruct(report)).build();
    }
}
