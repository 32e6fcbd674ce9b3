package io.condense.plugin.lowrank;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

class GreedySelectionTest {

    @Test
    void cutsTheLayerWhoseScoreFallsSlowest() {
        // two layers of 100 parameters; layer 0 keeps its score when cut, layer 1 loses it fast
        long[] before = {100, 100};
        List<long[]> parameters = List.of(new long[] {20, 50, 80}, new long[] {20, 50, 80});
        List<double[]> scores = List.of(new double[] {0.97, 0.99, 0.999}, new double[] {0.3, 0.6, 0.95});
        GreedySelection.Result result = GreedySelection.select(before, parameters, scores, 0.5 * 200);
        // threshold 0.97 leaves layer 1 whole (20 + 100 > 100); threshold 0.95: layer 0 takes 20, layer 1 takes 80
        assertThat(result.chosen()).containsExactly(0, 2);
        assertThat(result.parameters()).isEqualTo(100);
        assertThat(result.reached()).isTrue();
        assertThat(result.threshold()).isEqualTo(0.95);
    }

    @Test
    void saysSoWhenTheBudgetCannotBeMet() {
        GreedySelection.Result result = GreedySelection.select(new long[] {100}, List.of(new long[] {40}), List.of(new double[] {0.9}),
                10);
        assertThat(result.reached()).isFalse();
        assertThat(result.chosen()).containsExactly(0);
        assertThat(result.parameters()).isEqualTo(40);
    }

    @Test
    void leavesLayersAloneWhenTheBudgetAllows() {
        GreedySelection.Result result = GreedySelection.select(new long[] {100, 100}, List.of(new long[] {50}, new long[] {50}),
                List.of(new double[] {0.5}, new double[] {0.9}), 150);
        assertThat(result.chosen()).containsExactly(-1, 0);
        assertThat(result.parameters()).isEqualTo(150);
    }

    @Test
    void spendsWhatTheThresholdLeavesOnTheWorstScoringLayer() {
        // threshold 0.9 gives 30 + 30 = 60 of a 75 budget; the 15 left upgrade the worse-scoring layer 1 from 30 to 45
        long[] before = {100, 100};
        List<long[]> parameters = List.of(new long[] {30, 45}, new long[] {30, 45});
        List<double[]> scores = List.of(new double[] {0.95, 0.99}, new double[] {0.9, 0.999});
        GreedySelection.Result result = GreedySelection.select(before, parameters, scores, 75);
        assertThat(result.chosen()).containsExactly(0, 1);
        assertThat(result.parameters()).isEqualTo(75);
    }
}
