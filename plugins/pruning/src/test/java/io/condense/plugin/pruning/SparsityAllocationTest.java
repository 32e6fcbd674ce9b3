package io.condense.plugin.pruning;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.data.Offset.offset;

import java.util.List;
import org.junit.jupiter.api.Test;

class SparsityAllocationTest {
    private static final double[] SPARSITIES = {0.3, 0.5, 0.7, 0.9};

    @Test
    void targetIsReachedSpendingSparsityWhereTheCurveIsFlat() {
        SensitivityAnalysis.Curve robust = new SensitivityAnalysis.Curve("a", "a.weight", 1000, SPARSITIES, new double[] {0.99, 0.99, 0.985, 0.97});
        SensitivityAnalysis.Curve fragile = new SensitivityAnalysis.Curve("b", "b.weight", 1000, SPARSITIES, new double[] {0.98, 0.9, 0.6, 0.2});
        SensitivityAnalysis.Table table = new SensitivityAnalysis.Table("accuracy", 0.99, 1000, List.of(robust, fragile));
        double[] sparsity = SparsityAllocation.allocate(table, 0.6);
        assertThat((sparsity[0] + sparsity[1]) / 2).isCloseTo(0.6, offset(1e-6));
        assertThat(sparsity[0]).isCloseTo(0.9, offset(1e-6));
        assertThat(sparsity[1]).isCloseTo(0.3, offset(1e-6));
    }

    @Test
    void layersGoPastTheMeasuredRangeOnlyWhenTheTargetNeedsIt() {
        SensitivityAnalysis.Curve flat = new SensitivityAnalysis.Curve("a", "a.weight", 100, SPARSITIES, new double[] {0.99, 0.99, 0.99, 0.99});
        SensitivityAnalysis.Curve steep = new SensitivityAnalysis.Curve("b", "b.weight", 300, SPARSITIES, new double[] {0.9, 0.7, 0.5, 0.3});
        SensitivityAnalysis.Table table = new SensitivityAnalysis.Table("accuracy", 0.99, 1000, List.of(flat, steep));
        double[] sparsity = SparsityAllocation.allocate(table, 0.5);
        assertThat(sparsity[0]).isCloseTo(0.9, offset(1e-6));
        assertThat((100 * sparsity[0] + 300 * sparsity[1]) / 400).isCloseTo(0.5, offset(1e-6));
        double[] high = SparsityAllocation.allocate(table, 0.95);
        assertThat((100 * high[0] + 300 * high[1]) / 400).isCloseTo(0.95, offset(1e-6));
        assertThat(high[0]).isLessThanOrEqualTo(SparsityAllocation.MAX_SPARSITY + 1e-9);
    }

    @Test
    void curvesAreReadAsTheirRunningMinimum() {
        SensitivityAnalysis.Curve bumpy = new SensitivityAnalysis.Curve("a", "a.weight", 10, SPARSITIES, new double[] {0.9, 0.95, 0.8, 0.7});
        assertThat(SparsityAllocation.value(bumpy, 1.0, 0.5)).isCloseTo(0.9, offset(1e-12));
        assertThat(SparsityAllocation.value(bumpy, 1.0, 0.15)).isCloseTo(0.95, offset(1e-12));
        assertThat(SparsityAllocation.value(bumpy, 1.0, 0.8)).isCloseTo(0.75, offset(1e-12));
    }
}
