package io.condense.server.search;

import static org.assertj.core.api.Assertions.assertThat;

import io.condense.proto.v1.events.JobSpec;
import io.condense.proto.v1.SubmitRequest;
import org.junit.jupiter.api.Test;

/** What every candidate of a search is submitted with. */
class CandidateBaseTest {

    private static SubmitRequest base(String spec) {
        io.condense.proto.v1.SearchSpec search = SearchSpec.parse(spec);
        return SearchStep.candidateBase(JobSpec.newBuilder().setModelId("model").setEvaluationDataId("eval").setSearch(search).build(),
                SearchSpec.of(search));
    }

    @Test
    void candidatesRankedOrBoundedByLatencyAreTimedForHalfASecond() {
        assertThat(base("objective=latency, min_sqnr=20").getLatencyMs()).isEqualTo(Search.LATENCY_MS);
        assertThat(base("objective=size, max_latency=2.5").getLatencyMs()).isEqualTo(Search.LATENCY_MS);
    }

    @Test
    void otherCandidatesKeepTheDefaultTiming() {
        SubmitRequest size = base("max_drop=0.005, objective=size");
        assertThat(size.getLatencyMs()).isZero();
        assertThat(base("objective=macs").getLatencyMs()).isZero();
        // and every evaluation sample, the model and the data as the search job has them
        assertThat(size.getEvaluationSamples()).isEqualTo(Search.EVALUATION_SAMPLES);
        assertThat(size.getModelId()).isEqualTo("model");
        assertThat(size.getEvaluationDataId()).isEqualTo("eval");
    }
}
