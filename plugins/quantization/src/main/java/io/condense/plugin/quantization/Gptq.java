package io.condense.plugin.quantization;

import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import java.util.stream.IntStream;
import org.ejml.data.FMatrixRBlock;
import org.ejml.data.FSubmatrixD1;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.block.TriangularSolver_MT_FDRB;
import org.ejml.dense.block.decomposition.chol.CholeskyOuterForm_MT_FDRB;
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
    private static final int COLUMN_CHUNK = 128;
    /** Block size of EJML's cache-blocked Cholesky factor and triangular inverse. */
    private static final int FACTOR_BLOCK = 64;

    private Gptq() {
    }

    /** The outcome and the damping that made the Hessian positive definite. */
    record Result(QuantizedMatrix matrix, double damping, int deadFeatures) {
    }

    /**
     * The upper Cholesky factor U of the damped inverse Hessian, computed once per weight and shared by every block of
     * rows (GPTQ treats each output row on its own, so a large weight is quantized a block of rows at a time).
     */
    record Factor(float[] upper, int columns, double damping, int deadFeatures) {
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
        float[] upper = null;
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
        float[] u = factor.upper();
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
            // and half the traffic of doubles in the feedback (written back to data at the end)
            float[] weights = new float[(lastRow - firstRow) * columns];
            for (int index = 0; index < weights.length; index++) {
                weights[index] = (float) data[firstRow * columns + index];
            }
            float[] errors = new float[(lastRow - firstRow) * lazyBlock];
            for (int start = 0; start < columns; start += lazyBlock) {
                int end = Math.min(columns, start + lazyBlock);
                for (int row = firstRow; row < lastRow; row++) {
                    quantizeBlock(weights, row - firstRow, row, columns, start, end, u, grid, perRow, levels, scales, zeros, dequantized,
                            errors, (row - firstRow) * lazyBlock);
                }
                updateAfterBlock(weights, lastRow - firstRow, columns, start, end, u, errors, lazyBlock);
            }
            for (int index = 0; index < weights.length; index++) {
                data[firstRow * columns + index] = weights[index];
            }
        });
    }

    /**
     * Features {@code start..end} (a lazy block) of one row ({@code local} in the tile's {@code weights}, {@code row} in
     * the whole weight): each quantized in order, its error {@code (w - q) / U_ii} kept in {@code errors} and taken off the
     * block's later features at once along U's row i.
     */
    private static void quantizeBlock(float[] weights, int local, int row, int columns, int start, int end, float[] u, AffineGrid grid,
            int perRow, byte[] levels, float[] scales, int[] zeros, float[] dequantized, float[] errors, int errorsAt) {
        int localStart = local * columns;
        int rowStart = row * columns;
        for (int i = start; i < end; i++) {
            if (!grid.perTensor() && grid.groupColumns() < columns && i % grid.groupColumns() == 0) {
                int groupEnd = Math.min(columns, i + grid.groupColumns());
                QuantizedMatrix.fitRange(weights, localStart + i, localStart + groupEnd, grid, scales, zeros,
                        row * perRow + i / grid.groupColumns());
            }
            int group = grid.group(row, i, columns);
            float weight = weights[localStart + i];
            int level = grid.level(weight, scales[group], zeros[group]);
            float value = AffineGrid.dequantize(level, scales[group], zeros[group]);
            levels[rowStart + i] = (byte) level;
            dequantized[rowStart + i] = value;
            float error = (weight - value) / u[i * columns + i];
            errors[errorsAt + i - start] = error;
            int factorRow = i * columns;
            for (int j = i + 1; j < end; j++) {
                weights[localStart + j] -= error * u[factorRow + j];
            }
        }
    }

    /**
     * W[tile, end:] -= errors U[start:end, end:] for the tile's rows, in chunks of {@value #COLUMN_CHUNK} features: a
     * chunk of U's block rows (128 x 128 floats, 64 KB) stays in cache while every row of the tile takes it. Row by row,
     * each row streamed all of U's block rows from memory (the whole upper factor per row over the blocks: 2 TB for a
     * 4096 x 11008 weight), which bounded GPTQ by memory bandwidth, not arithmetic. No linear algebra library here does a
     * product into part of a row-major array in place with this tiling (EJML's would copy both operands into block form
     * for every lazy block).
     */
    private static void updateAfterBlock(float[] weights, int tileRows, int columns, int start, int end, float[] u, float[] errors,
            int lazyBlock) {
        for (int chunk = end; chunk < columns; chunk += COLUMN_CHUNK) {
            int chunkEnd = Math.min(columns, chunk + COLUMN_CHUNK);
            for (int local = 0; local < tileRows; local++) {
                int rowStart = local * columns;
                int errorsAt = local * lazyBlock;
                int j = start;
                // four of U's rows at a time: one load and store of the weight per four multiply-adds
                for (; j + 3 < end; j += 4) {
                    float e0 = errors[errorsAt + j - start];
                    float e1 = errors[errorsAt + j + 1 - start];
                    float e2 = errors[errorsAt + j + 2 - start];
                    float e3 = errors[errorsAt + j + 3 - start];
                    int r0 = j * columns;
                    int r1 = r0 + columns;
                    int r2 = r1 + columns;
                    int r3 = r2 + columns;
                    for (int k = chunk; k < chunkEnd; k++) {
                        weights[rowStart + k] -= e0 * u[r0 + k] + e1 * u[r1 + k] + e2 * u[r2 + k] + e3 * u[r3 + k];
                    }
                }
                for (; j < end; j++) {
                    float error = errors[errorsAt + j - start];
                    int factorRow = j * columns;
                    for (int k = chunk; k < chunkEnd; k++) {
                        weights[rowStart + k] -= error * u[factorRow + k];
                    }
                }
            }
        }
    }

    /**
     * U with U^T U = (H + damping I)^-1 (a zero H_ii taken as 1), or null when that is not positive definite. With J the reversal of the
     * features, J (H + damping I) J = M M^T (lower Cholesky factor M) gives (H + damping I)^-1 = (J M^-1 J)^T (J M^-1 J),
     * and J M^-1 J is upper triangular: one Cholesky factorization and one triangular inverse (about 2/3 n^3
     * multiply-adds, blocked for the cache by EJML), where inverting H and factoring the inverse took about 2 n^3.
     * Memory: H, the factor and its inverse in float32 blocks, and U in float32 (1.5 n^2 doubles besides H; it was 3).
     */
    static float[] inverseCholeskyUpper(DMatrixRMaj hessian, double damping) {
        int n = hessian.numRows;
        // H reversed (both axes) and damped, written straight into EJML's block layout in float32 (GPTQ's reference
        // factors in float32 too): half the memory and twice the values per vector instruction of doubles
        FMatrixRBlock lower = new FMatrixRBlock(n, n, FACTOR_BLOCK);
        double[] values = hessian.data;
        float[] blocks = lower.data;
        int last = n * n - 1;
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                double value = values[last - (i * n + j)];
                if (i == j) {
                    value = (value == 0 ? 1 : value) + damping;
                }
                blocks[blockIndex(n, i, j)] = (float) value;
            }
        }
        if (!new CholeskyOuterForm_MT_FDRB(true).decompose(lower)) {
            return null;
        }
        FMatrixRBlock inverse = new FMatrixRBlock(n, n, FACTOR_BLOCK);
        TriangularSolver_MT_FDRB.invert(FACTOR_BLOCK, false, new FSubmatrixD1(lower), new FSubmatrixD1(inverse), null);
        lower = null;
        blocks = inverse.data;
        // U = J M^-1 J: element (i, j) of U is element (n-1-i, n-1-j) of the inverse, read into row-major order with
        // the strictly lower triangle zero whatever the blocks held
        float[] upper = new float[n * n];
        for (int i = 0; i < n; i++) {
            int source = n - 1 - i;
            float diagonal = blocks[blockIndex(n, source, source)];
            if (!(diagonal > 0) || !Float.isFinite(diagonal)) {
                return null;
            }
            for (int j = i; j < n; j++) {
                upper[i * n + j] = blocks[blockIndex(n, source, n - 1 - j)];
            }
        }
        return upper;
    }

    /**
     * Where element (i, j) of an n x n {@link FMatrixRBlock} of {@value #FACTOR_BLOCK} blocks sits: block rows one after
     * another, the blocks of a block row one after another, each block row-major (EJML's layout).
     */
    static int blockIndex(int n, int i, int j) {
        int rowStart = i / FACTOR_BLOCK * FACTOR_BLOCK;
        int height = Math.min(FACTOR_BLOCK, n - rowStart);
        int columnStart = j / FACTOR_BLOCK * FACTOR_BLOCK;
        int width = Math.min(FACTOR_BLOCK, n - columnStart);
        return rowStart * n + columnStart * height + (i - rowStart) * width + (j - columnStart);
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
