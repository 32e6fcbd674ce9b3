package io.condense.plugin.pruning;

import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.sparsity.NmPattern;
import io.condense.sdk.sparsity.WeightMatrix;
import io.condense.sdk.linalg.InverseCholesky;
import java.util.Arrays;
import java.util.stream.IntStream;
import org.ejml.data.DMatrixRMaj;

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
    /** Rows pruned together: a tile's rows take each chunk of U's block rows while it is in cache. */
    private static final int ROW_TILE = 32;
    /** Columns per chunk of the update after a block. */
    private static final int COLUMN_CHUNK = 512;

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
        float[][] factor = inverseCholeskyFactor(hessian);
        // the weights in float32 while they are pruned (as SparseGPT's reference), one array per row: the error feedback
        // runs on InverseCholesky's row kernels, which C2 vectorizes only with every array indexed alike
        float[][] w = new float[rows][columns];
        for (int row = 0; row < rows; row++) {
            double[] source = weights[row];
            float[] target = w[row];
            for (int k = 0; k < columns; k++) {
                target[k] = (float) source[k];
            }
        }
        long target = Math.round(sparsity * rows * (double) columns);
        long zeros = 0;
        int tiles = (rows + ROW_TILE - 1) / ROW_TILE;
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
                chooseBlockMask(w, factor, start, width, wanted, mask);
            }
            // from here on each row is on its own (N:M masks are chosen per row): tiles of rows in parallel, the same
            // arithmetic per row whatever the threads
            int blockStart = start;
            int blockEnd = end;
            zeros += IntStream.range(0, tiles).parallel().mapToLong(tile -> {
                int first = tile * ROW_TILE;
                int last = Math.min(rows, first + ROW_TILE);
                float[][] errors = new float[last - first][blockEnd - blockStart];
                long pruned = 0;
                for (int row = first; row < last; row++) {
                    pruned += pruneBlock(w[row], factor, matrix, pattern, blockStart, blockEnd, mask[row], errors[row - first]);
                }
                updateAfterBlock(w, first, last, factor, blockStart, blockEnd, columns, errors);
                return pruned;
            }).sum();
            start = end;
        }
        for (int row = 0; row < rows; row++) {
            double[] out = weights[row];
            float[] source = w[row];
            for (int k = 0; k < columns; k++) {
                out[k] = source[k];
            }
        }
        return zeros;
    }

    /**
     * One row's columns {@code start..end}: each marked weight removed in order, its error w / U_jj kept in
     * {@code errors} (from the block's start) and taken off the block's later columns at once along U's row j.
     */
    private static long pruneBlock(float[] w, float[][] factor, WeightMatrix matrix, NmPattern pattern, int start, int end,
            boolean[] mask, float[] errors) {
        long zeros = 0;
        for (int column = start; column < end; column++) {
            int j = column - start;
            if (pattern != null && matrix.groupStart(column, pattern.m())) {
                chooseGroupMask(w, factor, column, matrix.groupLength(column, pattern.m()), pattern.n(), j, mask);
            }
            if (!mask[j]) {
                continue;
            }
            zeros++;
            float[] factorRow = factor[column];
            float error = w[column] / factorRow[column];
            w[column] = 0f;
            errors[j] = error;
            InverseCholesky.multiplySubtract(w, error, factorRow, column + 1, end);
        }
        return zeros;
    }

    /**
     * The block's errors reach the columns after it at once, W[tile, end:] -= errors U[start:end, end:], in chunks of
     * {@value #COLUMN_CHUNK} columns so that the chunk of U's block rows stays in cache while the tile's rows take it;
     * four of a row's non-zero errors per pass (the columns kept have none).
     */
    private static void updateAfterBlock(float[][] w, int first, int last, float[][] factor, int start, int end, int columns,
            float[][] errors) {
        int width = end - start;
        int[] used = new int[width];
        for (int chunk = end; chunk < columns; chunk += COLUMN_CHUNK) {
            int chunkEnd = Math.min(columns, chunk + COLUMN_CHUNK);
            for (int row = first; row < last; row++) {
                float[] e = errors[row - first];
                int count = 0;
                for (int j = 0; j < width; j++) {
                    if (e[j] != 0f) {
                        used[count++] = j;
                    }
                }
                InverseCholesky.multiplySubtractRows(w[row], e, used, count, factor, start, chunk, chunkEnd);
            }
        }
    }

    /** Marks the {@code wanted} weights of the block with the smallest w^2 / d^2 (ties: first in row, then column order). */
    private static void chooseBlockMask(float[][] weights, float[][] factor, int start, int width, long wanted, boolean[][] mask) {
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

    /** In one row, marks all but the {@code keep} weights with the largest w^2 / d^2 among {@code length} columns from {@code column}. */
    private static void chooseGroupMask(float[] weights, float[][] factor, int column, int length, int keep, int offset, boolean[] mask) {
        if (length <= keep) {
            return;
        }
        double[] scores = new double[length];
        for (int j = 0; j < length; j++) {
            double d = factor[column + j][column + j];
            double w = weights[column + j];
            scores[j] = w * w / (d * d);
        }
        for (int dropped = 0; dropped < length - keep; dropped++) {
            int smallest = -1;
            for (int j = 0; j < length; j++) {
                if (!mask[offset + j] && (smallest < 0 || scores[j] < scores[smallest])) {
                    smallest = j;
                }
            }
            mask[offset + smallest] = true;
        }
    }

    /**
     * The upper triangular U with H^-1 = U^T U for the damped H: the row-by-row form OBS needs (row j of U holds how
     * removing column j moves the columns after it, given the columns before are fixed). In float32, by the SDK's
     * {@link InverseCholesky} (one factorization and one triangular inverse of H reversed; it was H inverted and the
     * inverse factored in double, about three times the work and seven n x n doubles at the peak); a column no
     * calibration input ever reached (H_jj = 0) keeps the damping alone as its diagonal, so removing it costs nothing.
     */
    static float[][] inverseCholeskyFactor(DMatrixRMaj hessian) {
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
            float[][] factor = InverseCholesky.upper(hessian.data, n, damping, 0);
            if (factor != null) {
                return factor;
            }
        }
        throw new CondenseException(ErrorCode.INVALID_DATA, "X^T X of a layer's calibration inputs is not positive definite even "
                + "with strong damping; the calibration data may hold non-finite values");
    }
}
