package io.condense.server.search;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Set;
import org.junit.jupiter.api.Test;

class SearchSpecTest {

    @Test
    void parsesWhatTheIssueTypes() {
        SearchSpec spec = SearchSpec.parse("max_drop=0.005, objective=size");
        assertThat(spec.objective()).isEqualTo(SearchSpec.Objective.SIZE);
        assertThat(spec.maxDrop()).isEqualTo(0.005);
        assertThat(spec.techniques()).isEqualTo(SearchSpec.ALL_TECHNIQUES);
        assertThat(spec.minSqnrDb()).isEmpty();
    }

    @Test
    void parsesEveryKey() {
        SearchSpec spec = SearchSpec.parse("objective=latency, min_sqnr=25, max_size=40000, max_latency=2.5, techniques=prune+quantize");
        assertThat(spec.objective()).isEqualTo(SearchSpec.Objective.LATENCY);
        assertThat(spec.minSqnrDb()).hasValue(25.0);
        assertThat(spec.maxBytes()).hasValue(40000);
        assertThat(spec.maxLatencyMs()).hasValue(2.5);
        assertThat(spec.techniques()).isEqualTo(Set.of("prune", "quantize"));
        assertThat(SearchSpec.parse(spec.describe())).isEqualTo(spec);
    }

    @Test
    void namesEveryBadPairAtOnce() {
        assertThatThrownBy(() -> SearchSpec.parse("objective=smallest, max_drop=5, speed=1, techniques=prune+magic"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("'objective': must be size, macs or latency")
                .hasMessageContaining("'max_drop': must be a fraction in [0, 1)")
                .hasMessageContaining("unknown key 'speed'")
                .hasMessageContaining("'magic' is not one the search combines");
    }
}
