package io.condense.plugin.quantization;

import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.linalg.InverseCholesky;
import java.util.stream.IntStream;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;

/**
 * GPTQ (Frantar et al., 2023) onto an {@link AffineGrid}: the input features of a [rows, columns] weight are quantized
 * in order; each one's rounding error, divided by the diagonal of the upper Cholesky factor of the inverse Hessian
 * {@code H = 2 X^T X / n} of the layer inputs, is subtracted from the features not yet quantized along that factor's
 * row, so that the layer's output on the calibration inputs moves as little as possible. Updates inside a lazy block
 * of {@value #LAZY_BLOCK} features are immediate; the rest of the matrix is updated once per block (one matrix
 * product). Blocked groups take their scale and zero point from the updated weights when their first feature comes.
 */
final class Gptq {
    /** Features per lazy batch of updates. */
    static final int LAZY_BLOCK = 128;
    /** Damping added to the diagonal, as a share of its mean (the paper's 1%). */
    static final double DAMPING = 0.01;
    private static final int DAMPING_RETRIES = 6;
    /** Rows that take each chunk of U's block rows while it is in cache ({@link #updateAfterBlock}). */
    private static final int ROW_TILE = 32;
    /** Features per chunk of U's block rows in {@link #updateAfterBlock}. */
    private static final int COLUMN_CHUNK = 512;

    private Gptq() {
    }

    /** The outcome and the damping that made the Hessian positive definite. */
    record Result(QuantizedMatrix matrix, double damping, int deadFeatures) {
    }

    /**
     * The upper Cholesky factor U of the damped inverse Hessian, computed once per weight and shared by every block of
     * rows (GPTQ treats each output row on its own, so a large weight is quantized a block of rows at a time).
     */
    record Factor(float[][] upper, int columns, double damping, int deadFeatures) {
    }

    /**
     * @param weights row-major [rows, columns] (not changed)
     * @param hessian [columns, columns], {@code 2 X^T X / n} (not changed)
     */
    static Result quantize(double[] weights, int rows, int columns, DMatrixRMaj hessian, AffineGrid grid, String layer) {
        Factor factor = factor(hessian, columns, layer);
        double[] data = weights.clone();
        int groups = grid.groups(rows, columns);
        float[] scales = new float[groups];
        int[] zeros = new int[groups];
        if (grid.perTensor()) {
            QuantizedMatrix.fitRange(data, 0, data.length, grid, scales, zeros, 0);
        }
        byte[] levels = new byte[rows * columns];
        float[] dequantized = new float[rows * columns];
        quantizeRows(data, rows, factor, grid, levels, scales, zeros, dequantized);
        return new Result(new QuantizedMatrix(grid, rows, columns, levels, scales, zeros, dequantized), factor.damping(),
                factor.deadFeatures());
    }

    /** The factor of a Hessian (a feature that is always 0 gets H_ii = 1), with the least damping that makes it positive definite. */
    static Factor factor(DMatrixRMaj hessian, int columns, String layer) {
        if (hessian.numRows != columns || hessian.numCols != columns) {
            throw new IllegalArgumentException("a Hessian of " + hessian.numRows + "x" + hessian.numCols + " for " + columns + " features");
        }
        int dead = 0;
        double diagonalSum = 0;
        for (int i = 0; i < columns; i++) {
            double diagonal = hessian.get(i, i);
            if (diagonal == 0) {
                // an input feature always 0 on the calibration data: with H_ii = 1 and no coupling its weights are rounded
                // to nearest (the reference implementation zeroes them, which other inputs may not forgive); set in the
                // factor's working copy, so H itself is neither changed nor copied
                diagonal = 1;
                dead++;
            }
            diagonalSum += diagonal;
        }
        double meanDiagonal = diagonalSum / columns;
        double damping = DAMPING;
        float[][] upper = null;
        for (int attempt = 0; attempt < DAMPING_RETRIES && upper == null; attempt++, damping *= 10) {
            upper = inverseCholeskyUpper(hessian, damping * meanDiagonal);
        }
        if (upper == null) {
            throw new CondenseException(ErrorCode.INTERNAL_ERROR, "GPTQ of layer " + layer + ": the Hessian of its inputs stays "
                    + "singular even with " + (damping / 10) + " x its mean diagonal added; use method=rtn for this model");
        }
        return new Factor(upper, columns, damping / 10, dead);
    }

    /**
     * Quantizes {@code rows} rows of {@code data} (row-major, {@code factor.columns()} wide, updated in place by the error
     * feedback) onto the grid. Per-tensor grids come with their one scale fitted; per-row and blocked groups are fitted
     * here, indexed from row 0 of {@code data}.
     */
    static void quantizeRows(double[] data, int rows, Factor factor, AffineGrid grid, byte[] levels, float[] scales, int[] zeros,
            float[] dequantized) {
        int columns = factor.columns();
        if (!grid.perTensor() && grid.groupColumns() >= columns) {
            for (int row = 0; row < rows; row++) {
                QuantizedMatrix.fitRange(data, row * columns, (row + 1) * columns, grid, scales, zeros, row);
            }
        }
        int perRow = grid.groupsPerRow(columns);
        float[][] u = factor.upper();
        // a lazy block holds whole groups, so that a group's range is fitted on fully updated weights
        int lazyBlock = grid.perTensor() || grid.groupColumns() >= columns ? LAZY_BLOCK
                : Math.max(1, LAZY_BLOCK / grid.groupColumns()) * grid.groupColumns();
        // rows are independent (GPTQ treats each output row on its own): tiles of rows run every lazy block on their own,
        // shared among the common pool's threads, with the same arithmetic per row whatever the threads
        int tiles = (rows + ROW_TILE - 1) / ROW_TILE;
        IntStream.range(0, tiles).parallel().forEach(tile -> {
            int firstRow = tile * ROW_TILE;
            int lastRow = Math.min(rows, firstRow + ROW_TILE);
            // the tile's rows in float32, as GPTQ's reference updates its weights: twice the values per vector instruction
            // and half the traffic of doubles in the feedback (written back to data at the end); one array per row, so
            // that the feedback's loops index the weights and U's rows alike (InverseCholesky: what C2 vectorizes)
            float[][] weights = new float[lastRow - firstRow][columns];
            for (int local = 0; local < weights.length; local++) {
                float[] row = weights[local];
                int at = (firstRow + local) * columns;
                for (int j = 0; j < columns; j++) {
                    row[j] = (float) data[at + j];
                }
            }
            float[][] errors = new float[lastRow - firstRow][lazyBlock];
            int[] blockFeatures = IntStream.range(0, lazyBlock).toArray();
            for (int start = 0; start < columns; start += lazyBlock) {
                int end = Math.min(columns, start + lazyBlock);
                for (int row = firstRow; row < lastRow; row++) {
                    quantizeBlock(weights[row - firstRow], row, columns, start, end, u, grid, perRow, levels, scales, zeros, dequantized,
                            errors[row - firstRow]);
                }
                updateAfterBlock(weights, columns, start, end, u, errors, blockFeatures);
            }
            for (int local = 0; local < weights.length; local++) {
                float[] row = weights[local];
                int at = (firstRow + local) * columns;
                for (int j = 0; j < columns; j++) {
                    data[at + j] = row[j];
                }
            }
        });
    }

    /**
     * Features {@code start..end} (a lazy block) of one row ({@code weights}, row {@code row} of the whole weight): each
     * quantized in order, its error {@code (w - q) / U_ii} kept in {@code errors} (from the block's start) and taken off
     * the block's later features at once along U's row i.
     */
    private static void quantizeBlock(float[] weights, int row, int columns, int start, int end, float[][] u, AffineGrid grid,
            int perRow, byte[] levels, float[] scales, int[] zeros, float[] dequantized, float[] errors) {
        int rowStart = row * columns;
        for (int i = start; i < end; i++) {
            if (!grid.perTensor() && grid.groupColumns() < columns && i % grid.groupColumns() == 0) {
                int groupEnd = Math.min(columns, i + grid.groupColumns());
                QuantizedMatrix.fitRange(weights, i, groupEnd, grid, scales, zeros, row * perRow + i / grid.groupColumns());
            }
            int group = grid.group(row, i, columns);
            float weight = weights[i];
            int level = grid.level(weight, scales[group], zeros[group]);
            float value = AffineGrid.dequantize(level, scales[group], zeros[group]);
            levels[rowStart + i] = (byte) level;
            dequantized[rowStart + i] = value;
            float[] factorRow = u[i];
            float error = (weight - value) / factorRow[i];
            errors[i - start] = error;
            InverseCholesky.multiplySubtract(weights, error, factorRow, i + 1, end);
        }
    }

    /**
     * W[tile, end:] -= errors U[start:end, end:] for the tile's rows, in chunks of {@value #COLUMN_CHUNK} features: a
     * chunk of U's block rows (128 x 512 floats, 256 KB) stays in cache while every row of the tile takes it. Row by
     * row, each row streamed all of U's block rows from memory (the whole upper factor per row over the blocks: 2 TB for
     * a 4096 x 11008 weight), which bounded GPTQ by memory bandwidth, not arithmetic. No linear algebra library here does
     * a product into part of a row-major array in place with this tiling (EJML's would copy both operands into block
     * form for every lazy block).
     */
    private static void updateAfterBlock(float[][] weights, int columns, int start, int end, float[][] u, float[][] errors,
            int[] features) {
        for (int chunk = end; chunk < columns; chunk += COLUMN_CHUNK) {
            int chunkEnd = Math.min(columns, chunk + COLUMN_CHUNK);
            for (int local = 0; local < weights.length; local++) {
                // every feature of the block, in order: four of U's rows per pass, one load and store of the weight per four
                // multiply-adds
                InverseCholesky.multiplySubtractRows(weights[local], errors[local], features, end - start, u, start, chunk, chunkEnd);
            }
        }
    }

    /**
     * U with U^T U = (H + damping I)^-1 (a zero H_ii taken as 1), or null when that is not positive definite: one
     * Cholesky factorization and one triangular inverse in float32 (as GPTQ's reference), in place in one n x n float
     * array ({@link InverseCholesky}).
     */
    static float[][] inverseCholeskyUpper(DMatrixRMaj hessian, double damping) {
        return InverseCholesky.upper(hessian.data, hessian.numRows, damping, 1);
    }

    /** tr((W - Q) H (W - Q)^T): how far the layer's output on the calibration inputs moves (up to the 2 / n factor). */
    static double outputError(double[] weights, float[] dequantized, int rows, int columns, DMatrixRMaj hessian) {
        DMatrixRMaj difference = new DMatrixRMaj(rows, columns);
        for (int i = 0; i < weights.length; i++) {
            difference.data[i] = weights[i] - dequantized[i];
        }
        DMatrixRMaj product = new DMatrixRMaj(rows, columns);
        CommonOps_DDRM.mult(difference, hessian, product);
        return CommonOps_DDRM.elementSum(CommonOps_DDRM.elementMult(product, difference, null));
    }
}
