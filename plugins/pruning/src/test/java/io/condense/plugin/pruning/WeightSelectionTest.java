package io.condense.plugin.pruning;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class WeightSelectionTest {

    @Test
    void globsMatchWholeNames() {
        assertThat(WeightSelection.compile("conv*").matcher("conv1.weight").matches()).isTrue();
        assertThat(WeightSelection.compile("conv?.weight").matcher("conv1.weight").matches()).isTrue();
        assertThat(WeightSelection.compile("conv").matcher("conv1.weight").matches()).isFalse();
        assertThat(WeightSelection.compile("fc1.weight").matcher("fc1xweight").matches()).as("dots are literal").isFalse();
        assertThat(WeightSelection.compile("regex:fc[0-9]\\..*").matcher("fc2.weight").matches()).isTrue();
    }

    @Test
    void badRegularExpressionsAreNamed() {
        assertThat(WeightSelection.problem("regex:conv(1")).contains("conv(1").contains("not a valid regular expression");
        assertThat(WeightSelection.problem("conv(1")).as("a glob has no syntax to break").isNull();
    }
}
