package io.condense.plugin.pruning;

import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.sparsity.NmPattern;
import io.condense.sdk.sparsity.WeightMatrix;
import java.util.Arrays;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.factory.DecompositionFactory_DDRM;
import org.ejml.dense.row.factory.LinearSolverFactory_DDRM;
import org.ejml.interfaces.decomposition.CholeskyDecomposition_F64;
import org.ejml.interfaces.linsol.LinearSolverDense;

/**
 * One-shot data-aware pruning of one weight matrix in the spirit of OBS / SparseGPT (Frantar and Alistarh,
 * 2023): with H = X^T X of the layer's inputs (plus damping), the columns are visited in blocks; at the start
 * of a block (or of an N:M group) the weights to remove are those with the smallest w^2 / [H^-1]_jj^2 (the
 * OBS error of removing them), and the error each column's pruning makes is spread over the columns not yet
 * visited through the upper Cholesky factor of H^-1, so that the layer's output on the calibration inputs
 * changes as little as possible. No training, no gradients.
 */
final class SparseGpt {
    /** Columns processed together: the mask of a block is chosen at once, the error is propagated lazily. */
    static final int BLOCK_COLUMNS = 128;
    /** Damping added to the diagonal of H, as a fraction of its mean diagonal. */
    static final double DAMPING = 0.01;

    private SparseGpt() {
    }

    /**
     * Prunes {@code weights} ([rows][columns], changed in place) to {@code sparsity} (exactly
     * round(sparsity x rows x columns) zeros) or, when {@code pattern} is given, to at most N non-zeros per group
     * of M consecutive columns of one channel run (see {@link WeightMatrix#groupStart}).
     *
     * @param hessian X^T X, [columns x columns], left unchanged
     * @return how many weights are zero afterwards
     */
    static long prune(double[][] weights, DMatrixRMaj hessian, WeightMatrix matrix, double sparsity, NmPattern pattern) {
        int rows = weights.length;
        int columns = matrix.columns();
        double[][] factor = inverseCholeskyFactor(hessian);
        long target = Math.round(sparsity * rows * (double) columns);
        long zeros = 0;
        int start = 0;
        while (start < columns) {
            int end = Math.min(columns, start + BLOCK_COLUMNS);
            if (pattern != null) {
                while (end < columns && !matrix.groupStart(end, pattern.m())) {
                    end++;
                }
            }
            int width = end - start;
            boolean[][] mask = new boolean[rows][width];
            if (pattern == null) {
                // adaptive mask selection: the block's share of the target, over all its rows at once
                long wanted = Math.round(target * (double) end / columns) - zeros;
                chooseBlockMask(weights, factor, start, width, wanted, mask);
            }
            double[][] errors = new double[rows][width];
            for (int j = 0; j < width; j++) {
                int column = start + j;
                if (pattern != null && matrix.groupStart(column, pattern.m())) {
                    chooseGroupMask(weights, factor, column, matrix.groupLength(column, pattern.m()), pattern.n(), j, mask);
                }
                double diagonal = factor[column][column];
                double[] factorRow = factor[column];
                for (int row = 0; row < rows; row++) {
                    double[] w = weights[row];
                    double value = w[column];
                    if (!mask[row][j]) {
                        continue;
                    }
                    zeros++;
                    double error = value / diagonal;
                    w[column] = 0.0;
                    errors[row][j] = error;
                    for (int k = column + 1; k < end; k++) {
                        w[k] -= error * factorRow[k];
                    }
                }
            }
            // the block's errors reach the columns after it all at once
            for (int row = 0; row < rows; row++) {
                double[] w = weights[row];
                double[] e = errors[row];
                for (int j = 0; j < width; j++) {
                    double error = e[j];
                    if (error == 0.0) {
                        continue;
                    }
                    double[] factorRow = factor[start + j];
                    for (int k = end; k < columns; k++) {
                        w[k] -= error * factorRow[k];
                    }
                }
            }
            start = end;
        }
        return zeros;
    }

    /** Marks the {@code wanted} weights of the block with the smallest w^2 / d^2 (ties: first in row, then column order). */
    private static void chooseBlockMask(double[][] weights, double[][] factor, int start, int width, long wanted, boolean[][] mask) {
        int rows = weights.length;
        if (wanted <= 0) {
            return;
        }
        int count = rows * width;
        double[] scores = new double[count];
        for (int row = 0; row < rows; row++) {
            for (int j = 0; j < width; j++) {
                double d = factor[start + j][start + j];
                double w = weights[row][start + j];
                scores[row * width + j] = w * w / (d * d);
            }
        }
        if (wanted >= count) {
            for (boolean[] line : mask) {
                Arrays.fill(line, true);
            }
            return;
        }
        double[] sorted = scores.clone();
        Arrays.sort(sorted);
        double threshold = sorted[(int) wanted - 1];
        long below = 0;
        for (double score : scores) {
            if (score < threshold) {
                below++;
            }
        }
        long ties = wanted - below;
        for (int i = 0; i < count; i++) {
            double score = scores[i];
            if (score < threshold || (score == threshold && ties-- > 0)) {
                mask[i / width][i % width] = true;
            }
        }
    }

    /** In every row, marks all but the {@code keep} weights with the largest w^2 / d^2 among {@code length} columns from {@code column}. */
    private static void chooseGroupMask(double[][] weights, double[][] factor, int column, int length, int keep, int offset,
            boolean[][] mask) {
        if (length <= keep) {
            return;
        }
        double[] scores = new double[length];
        for (int row = 0; row < weights.length; row++) {
            for (int j = 0; j < length; j++) {
                double d = factor[column + j][column + j];
                double w = weights[row][column + j];
                scores[j] = w * w / (d * d);
            }
            for (int dropped = 0; dropped < length - keep; dropped++) {
                int smallest = -1;
                for (int j = 0; j < length; j++) {
                    if (!mask[row][offset + j] && (smallest < 0 || scores[j] < scores[smallest])) {
                        smallest = j;
                    }
                }
                mask[row][offset + smallest] = true;
            }
        }
    }

    /**
     * The upper triangular U with H^-1 = U^T U for the damped H: the row-by-row form OBS needs (row j of U holds
     * how removing column j moves the columns after it, given the columns before are fixed).
     */
    static double[][] inverseCholeskyFactor(DMatrixRMaj hessian) {
        int n = hessian.numRows;
        double mean = 0;
        for (int i = 0; i < n; i++) {
            mean += hessian.get(i, i);
        }
        mean /= n;
        if (!(mean > 0) || !Double.isFinite(mean)) {
            mean = 1.0;
        }
        double damping = DAMPING * mean;
        for (int attempt = 0; attempt < 6; attempt++, damping *= 10) {
            DMatrixRMaj damped = hessian.copy();
            for (int i = 0; i < n; i++) {
                // a column no calibration input ever reached has H_jj = 0: the damping alone makes it invertible
                damped.add(i, i, damping);
            }
            LinearSolverDense<DMatrixRMaj> solver = LinearSolverFactory_DDRM.symmPosDef(n);
            if (!solver.setA(damped)) {
                continue;
            }
            DMatrixRMaj inverse = new DMatrixRMaj(n, n);
            solver.invert(inverse);
            CholeskyDecomposition_F64<DMatrixRMaj> cholesky = DecompositionFactory_DDRM.chol(n, false);
            if (!cholesky.decompose(inverse)) {
                continue;
            }
            DMatrixRMaj upper = cholesky.getT(null);
            double[][] factor = new double[n][n];
            boolean finite = true;
            for (int i = 0; i < n; i++) {
                for (int j = i; j < n; j++) {
                    factor[i][j] = upper.get(i, j);
                }
                finite &= factor[i][i] > 0 && Double.isFinite(factor[i][i]);
            }
            if (finite) {
                return factor;
            }
        }
        throw new CondenseException(ErrorCode.INVALID_DATA, "X^T X of a layer's calibration inputs is not positive definite even "
                + "with strong damping; the calibration data may hold non-finite values");
    }
}
