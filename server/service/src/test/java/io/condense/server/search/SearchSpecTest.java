package io.condense.server.search;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class SearchSpecTest {

    @Test
    void parsesWhatTheIssueTypes() {
        SearchSpec spec = SearchSpec.of(SearchSpec.parse("max_drop=0.005, objective=size"));
        assertThat(spec.objective()).isEqualTo(SearchSpec.Objective.SIZE);
        assertThat(spec.maxDrop()).isEqualTo(0.005);
        assertThat(spec.techniques()).isEqualTo(SearchSpec.ALL_TECHNIQUES);
        assertThat(spec.minSqnrDb()).isEmpty();
    }

    @Test
    void anEmptySpecTakesTheDefaults() {
        io.condense.proto.v1.SearchSpec empty = io.condense.proto.v1.SearchSpec.getDefaultInstance();
        SearchSpec spec = SearchSpec.of(empty);
        assertThat(spec.objective()).isEqualTo(SearchSpec.Objective.SIZE);
        assertThat(spec.maxDrop()).isEqualTo(SearchSpec.DEFAULT_MAX_DROP);
        assertThat(spec.confidence()).isEqualTo(SearchSpec.DEFAULT_CONFIDENCE);
        assertThat(spec.z()).isCloseTo(2.3263479, org.assertj.core.api.Assertions.within(1e-6));
        assertThat(SearchSpec.budgetMillis(empty)).isEqualTo(SearchSpec.DEFAULT_BUDGET_MILLIS);
        // max_drop=0 is a value of its own, not "unset"
        assertThat(SearchSpec.of(SearchSpec.parse("max_drop=0")).maxDrop()).isZero();
    }

    @Test
    void parsesEveryKey() {
        SearchSpec spec = SearchSpec.of(SearchSpec.parse("objective=latency, min_sqnr=25, max_size=40000, max_latency=2.5, techniques=prune+quantize, "
                + "confidence=0.99"));
        assertThat(spec.confidence()).isEqualTo(0.99);
        assertThat(spec.objective()).isEqualTo(SearchSpec.Objective.LATENCY);
        assertThat(spec.minSqnrDb()).hasValue(25.0);
        assertThat(spec.maxBytes()).hasValue(40000);
        assertThat(spec.maxLatencyMs()).hasValue(2.5);
        assertThat(spec.techniques()).isEqualTo(Set.of("prune", "quantize"));
        assertThat(SearchSpec.of(SearchSpec.parse(spec.describe()))).isEqualTo(spec);
    }

    @Test
    void namesEveryBadPairAtOnce() {
        assertThatThrownBy(() -> SearchSpec.parse("objective=size, max_drop=half, speed=1, fast"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("'max_drop': not a number")
                .hasMessageContaining("unknown key 'speed'")
                .hasMessageContaining("'fast' is not key=value");
    }

    @Test
    void namesEveryBadValueAtOnceAsSubmitDoes() {
        io.condense.proto.v1.SearchSpec proto = SearchSpec.parse("objective=smallest, max_drop=5, max_size=-1, techniques=prune+magic, confidence=1")
                .toBuilder().setBudgetMs(-5).build();
        List<String> problems = SearchSpec.problems(proto);
        assertThat(problems).hasSize(6);
        assertThat(String.join("\n", problems))
                .contains("objective 'smallest' is not one of size, macs, latency")
                .contains("max_drop 5.0 must be a fraction in [0, 1)")
                .contains("max_size -1 must be a number of bytes > 0")
                .contains("technique 'magic' is not one the search combines")
                .contains("budget_ms -5 must be in [0,")
                .contains("confidence 1.0 must be in [0.5, 0.9999]");
        assertThatThrownBy(() -> SearchSpec.of(proto)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("smallest");
    }
}
