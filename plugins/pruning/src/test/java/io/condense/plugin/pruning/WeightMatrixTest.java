package io.condense.plugin.pruning;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The SDK's Gram matrix orders a Conv's columns as the weight stores them; {@link WeightMatrix#gramColumn} maps to it. */
class WeightMatrixTest {

    @Test
    void gramColumnIsTheWeightsOwnOrderInsideOneOutputChannel() {
        // 2 groups of 3 output channels, 4 input channels per group, a 2x3 kernel: columns (kernel position, channel)
        WeightMatrix matrix = new WeightMatrix(2, 3, 24, 4, 6, true);
        Set<Integer> seen = new HashSet<>();
        for (int group = 0; group < matrix.groups(); group++) {
            for (int row = 0; row < matrix.rows(); row++) {
                for (int column = 0; column < matrix.columns(); column++) {
                    int channelStart = (group * matrix.rows() + row) * matrix.columns();
                    assertThat(matrix.flatIndex(group, row, column)).isEqualTo(channelStart + matrix.gramColumn(column));
                }
            }
        }
        for (int column = 0; column < matrix.columns(); column++) {
            seen.add(matrix.gramColumn(column));
        }
        assertThat(seen).hasSize(matrix.columns());
        // consecutive columns are consecutive input channels at one kernel position: 6 apart in the weight
        assertThat(matrix.gramColumn(1) - matrix.gramColumn(0)).isEqualTo(6);
    }

    @Test
    void gramColumnIsTheIdentityForMatrices() {
        WeightMatrix matrix = new WeightMatrix(1, 5, 7, 7, 1, false);
        for (int column = 0; column < 7; column++) {
            assertThat(matrix.gramColumn(column)).isEqualTo(column);
        }
    }
}
