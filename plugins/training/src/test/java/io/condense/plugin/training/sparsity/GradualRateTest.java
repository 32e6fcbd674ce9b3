package io.condense.plugin.training.sparsity;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import io.condense.plugin.training.FinetuneTechnique;
import io.condense.sdk.technique.Parameters;
import io.condense.sdk.training.LearningRateSchedule;
import io.condense.sdk.training.TrainingParameters;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Gradual pruning's default learning rate: 3 x the optimizer's default when lr is not given, the given lr otherwise. */
class GradualRateTest {
    private static TrainingParameters.Settings settings(Map<String, String> given) {
        Parameters parameters = Parameters.resolve(new FinetuneTechnique(), given);
        return SparsityParameters.settings(TrainingParameters.settings(parameters), parameters);
    }

    @Test
    void gradualPruningTrainsAtThreeTimesTheOptimizersDefaultRate() {
        assertThat(settings(Map.of("sparsity", "0.9")).rate()).isCloseTo(0.03, within(1e-12));
        assertThat(settings(Map.of("pattern", "2:4")).rate()).isCloseTo(0.03, within(1e-12));
        assertThat(settings(Map.of("sparsity", "0.9", "optimizer", "adam")).rate()).isCloseTo(0.003, within(1e-12));
    }

    @Test
    void theScheduleStartsFromTheGradualRate() {
        TrainingParameters.Settings settings = settings(Map.of("sparsity", "0.9", "epochs", "4"));
        assertThat(settings.schedule()).isInstanceOf(LearningRateSchedule.Cosine.class);
        assertThat(settings.schedule().rate(0, 0)).isCloseTo(0.03, within(1e-12));
    }

    @Test
    void aGivenRateAndFinetuneWithoutPruningKeepTheirRates() {
        assertThat(settings(Map.of("sparsity", "0.9", "lr", "0.02")).rate()).isEqualTo(0.02);
        assertThat(settings(Map.of()).rate()).isEqualTo(TrainingParameters.DEFAULT_SGD_RATE);
        assertThat(settings(Map.of("l1", "0.0001")).rate()).as("regularisers alone are not gradual pruning")
                .isEqualTo(TrainingParameters.DEFAULT_SGD_RATE);
    }
}
