package io.condense.sdk.training;

import static org.assertj.core.api.Assertions.assertThat;

import io.condense.sdk.technique.Parameters;
import java.util.Map;
import org.junit.jupiter.api.Test;

class TrainingParametersTest {
    private static Parameters given(Map<String, String> values) {
        return Parameters.validate(TrainingParameters.specs(3, TrainingParameters.DEFAULT_SCHEDULE, "seed"), values);
    }

    @Test
    void aTechniquesDefaultOptimizerAppliesWhenNoneIsGivenWithItsOwnRate() {
        TrainingParameters.Settings settings = TrainingParameters.settings(given(Map.of()), "adam");

        assertThat(settings.optimizerName()).isEqualTo("adam");
        assertThat(settings.optimizer()).isInstanceOf(Optimizer.Adam.class);
        assertThat(settings.rate()).isEqualTo(TrainingParameters.DEFAULT_ADAM_RATE);
    }

    @Test
    void aGivenOptimizerMomentumOrRateWins() {
        assertThat(TrainingParameters.settings(given(Map.of("optimizer", "sgd")), "adam").optimizerName()).isEqualTo("sgd");
        assertThat(TrainingParameters.settings(given(Map.of("momentum", "0.5")), "adam").optimizer())
                .isEqualTo(Optimizer.sgd(0.5, 0));
        assertThat(TrainingParameters.settings(given(Map.of("lr", "0.0003")), "adam").rate()).isEqualTo(0.0003);
    }

    @Test
    void withRateChangesTheRateAndRestartsTheScheduleFromIt() {
        TrainingParameters.Settings settings = TrainingParameters.settings(given(Map.of("epochs", "4", "seed", "7")));
        TrainingParameters.Settings faster = settings.withRate(0.03);

        assertThat(faster.rate()).isEqualTo(0.03);
        assertThat(faster.schedule().rate(0, 0)).isEqualTo(0.03);
        assertThat(faster.schedule().rate(3, 1)).isEqualTo(settings.schedule().rate(3, 1));
        assertThat(faster.withRate(settings.rate())).isEqualTo(settings);
    }

    @Test
    void withoutATechniquesDefaultTheParametersDefaultIsSgd() {
        TrainingParameters.Settings settings = TrainingParameters.settings(given(Map.of()));

        assertThat(settings.optimizerName()).isEqualTo("sgd");
        assertThat(settings.rate()).isEqualTo(TrainingParameters.DEFAULT_SGD_RATE);
    }
}
