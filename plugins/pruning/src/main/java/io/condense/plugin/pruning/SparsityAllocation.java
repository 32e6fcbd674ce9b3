package io.condense.plugin.pruning;

import java.util.List;

/**
 * Gives each layer its own sparsity so that the selected weights together reach a target, spending it where the
 * measured sensitivity curves drop least: a greedy walk in steps of {@link #STEP} that each time raises the layer
 * whose metric falls least per weight removed. A curve is read as its running minimum (pruning more never helps),
 * linearly interpolated between the measured sparsities (0 = the unpruned baseline). No layer goes past the largest
 * measured sparsity unless the target cannot be reached otherwise; then the curves are extrapolated beyond their last
 * point with their steepest average slope, up to {@link #MAX_SPARSITY}.
 */
final class SparsityAllocation {
    static final double STEP = 0.01;
    static final double MAX_SPARSITY = 0.99;

    private SparsityAllocation() {
    }

    /** The per-layer sparsities, in curve order; their weighted mean is {@code target} (within rounding). */
    static double[] allocate(SensitivityAnalysis.Table table, double target) {
        List<SensitivityAnalysis.Curve> curves = table.curves();
        int count = curves.size();
        double[] sparsity = new double[count];
        double total = 0;
        for (SensitivityAnalysis.Curve curve : curves) {
            total += curve.elements();
        }
        double wanted = target * total;
        double reached = 0;
        int last = -1;
        double measured = 0;
        for (SensitivityAnalysis.Curve curve : curves) {
            for (double x : curve.sparsities()) {
                measured = Math.max(measured, x);
            }
        }
        // within the measured range first; beyond it (extrapolated) only when the target needs it
        for (double cap : new double[] {Math.min(measured, MAX_SPARSITY), MAX_SPARSITY}) {
            while (reached < wanted - 0.5) {
                int best = -1;
                double bestCost = Double.POSITIVE_INFINITY;
                for (int i = 0; i < count; i++) {
                    if (sparsity[i] + STEP > cap + 1e-9) {
                        continue;
                    }
                    SensitivityAnalysis.Curve curve = curves.get(i);
                    double drop = value(curve, table.baseline(), sparsity[i]) - value(curve, table.baseline(), sparsity[i] + STEP);
                    double cost = Math.max(0, drop) / (STEP * curve.elements());
                    // ties (flat curves): the least pruned layer first, so that free sparsity is spread evenly
                    if (cost < bestCost - 1e-15 || (Math.abs(cost - bestCost) <= 1e-15 && best >= 0 && sparsity[i] < sparsity[best])) {
                        best = i;
                        bestCost = cost;
                    }
                }
                if (best < 0) {
                    break;
                }
                sparsity[best] += STEP;
                reached += STEP * curves.get(best).elements();
                last = best;
            }
        }
        if (last >= 0 && reached > wanted) {
            // the last step overshoots: take back the excess from the layer that made it
            sparsity[last] -= (reached - wanted) / curves.get(last).elements();
        }
        for (int i = 0; i < count; i++) {
            sparsity[i] = Math.max(0, Math.min(MAX_SPARSITY, sparsity[i]));
        }
        return sparsity;
    }

    /** The curve's running minimum at {@code sparsity}, interpolated (baseline at 0) and extrapolated past the last point. */
    static double value(SensitivityAnalysis.Curve curve, double baseline, double sparsity) {
        double[] xs = curve.sparsities();
        double[] ys = curve.metrics();
        double previousX = 0;
        double previousY = baseline;
        double steepest = 0;
        for (int i = 0; i < xs.length; i++) {
            double y = Math.min(previousY, ys[i]);
            if (xs[i] > previousX) {
                steepest = Math.max(steepest, (baseline - y) / xs[i]);
            }
            if (sparsity <= xs[i]) {
                double span = xs[i] - previousX;
                return span <= 0 ? y : previousY + (y - previousY) * (sparsity - previousX) / span;
            }
            previousX = xs[i];
            previousY = y;
        }
        return previousY - steepest * (sparsity - previousX);
    }
}
