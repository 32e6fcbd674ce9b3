package io.condense.plugin.quantization;

import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import java.util.Arrays;
import java.util.stream.IntStream;
import org.ejml.data.DMatrixRBlock;
import org.ejml.data.DMatrixRMaj;
import org.ejml.data.DSubmatrixD1;
import org.ejml.dense.block.MatrixOps_DDRB;
import org.ejml.dense.block.TriangularSolver_DDRB;
import org.ejml.dense.block.decomposition.chol.CholeskyOuterForm_DDRB;
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
    record Factor(DMatrixRMaj upper, double damping, int deadFeatures) {
        int columns() {
            return upper.numRows;
        }
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
        DMatrixRMaj upper = null;
        for (int attempt = 0; attempt < DAMPING_RETRIES && upper == null; attempt++, damping *= 10) {
            upper = inverseCholeskyUpper(hessian, damping * meanDiagonal);
        }
        if (upper == null) {
            throw new CondenseException(ErrorCode.INTERNAL_ERROR, "GPTQ of layer " + layer + ": the Hessian of its inputs stays "
                    + "singular even with " + (damping / 10) + " x its mean diagonal added; use method=rtn for this model");
        }
        return new Factor(upper, damping / 10, dead);
    }

    /**
     * Quantizes {@code rows} rows of {@code data} (row-major, {@code factor.columns()} wide, updated in place by the error
     * feedback) onto the grid. Per-tensor grids come with their one scale fitted; per-row and blocked groups are fitted
     * here, indexed from row 0 of {@code data}.
     */
    static void quantizeRows(double[] data, int rows, Factor factor, AffineGrid grid, byte[] levels, float[] scales, int[] zeros,
            float[] dequantized) {
        int columns = factor.columns();
        DMatrixRMaj upper = factor.upper();
        if (!grid.perTensor() && grid.groupColumns() >= columns) {
            for (int row = 0; row < rows; row++) {
                QuantizedMatrix.fitRange(data, row * columns, (row + 1) * columns, grid, scales, zeros, row);
            }
        }
        int perRow = grid.groupsPerRow(columns);
        double[] u = upper.data;
        // a lazy block holds whole groups, so that a group's range is fitted on fully updated weights
        int lazyBlock = grid.perTensor() || grid.groupColumns() >= columns ? LAZY_BLOCK
                : Math.max(1, LAZY_BLOCK / grid.groupColumns()) * grid.groupColumns();
        for (int first = 0; first < columns; first += lazyBlock) {
            int start = first;
            int end = Math.min(columns, start + lazyBlock);
            // rows are independent (GPTQ treats each output row on its own): shared among the common pool's threads, with
            // the same arithmetic per row whatever the threads, so the result does not depend on them
            IntStream.range(0, rows).parallel().forEach(row -> quantizeRow(data, row, columns, start, end, u, grid, perRow, levels,
                    scales, zeros, dequantized));
        }
    }

    /**
     * Features {@code start..end} (a lazy block) of one row: each quantized in order, its error {@code (w - q) / U_ii}
     * taken off the block's later features at once along U's row i, then off all the features after the block
     * (W[row, end:] -= errors U[start:end, end:], the row in cache while U's rows stream).
     */
    private static void quantizeRow(double[] data, int row, int columns, int start, int end, double[] u, AffineGrid grid, int perRow,
            byte[] levels, float[] scales, int[] zeros, float[] dequantized) {
        int rowStart = row * columns;
        double[] errors = new double[end - start];
        for (int i = start; i < end; i++) {
            if (!grid.perTensor() && grid.groupColumns() < columns && i % grid.groupColumns() == 0) {
                int groupEnd = Math.min(columns, i + grid.groupColumns());
                QuantizedMatrix.fitRange(data, rowStart + i, rowStart + groupEnd, grid, scales, zeros,
                        row * perRow + i / grid.groupColumns());
            }
            int index = rowStart + i;
            int group = grid.group(row, i, columns);
            double weight = data[index];
            int level = grid.level(weight, scales[group], zeros[group]);
            float value = AffineGrid.dequantize(level, scales[group], zeros[group]);
            levels[index] = (byte) level;
            dequantized[index] = value;
            double error = (weight - value) / u[i * columns + i];
            errors[i - start] = error;
            int factorRow = i * columns;
            for (int j = i + 1; j < end; j++) {
                data[rowStart + j] -= error * u[factorRow + j];
            }
        }
        for (int j = start; j < end; j++) {
            double error = errors[j - start];
            if (error == 0) {
                continue;
            }
            int factorRow = j * columns;
            for (int k = end; k < columns; k++) {
                data[rowStart + k] -= error * u[factorRow + k];
            }
        }
    }

    /**
     * U with U^T U = (H + damping I)^-1 (a zero H_ii taken as 1), or null when that is not positive definite. With J the reversal of the
     * features, J (H + damping I) J = M M^T (lower Cholesky factor M) gives (H + damping I)^-1 = (J M^-1 J)^T (J M^-1 J),
     * and J M^-1 J is upper triangular: one Cholesky factorization and one triangular inverse (about 2/3 n^3
     * multiply-adds, blocked for the cache by EJML), where inverting H and factoring the inverse took about 2 n^3.
     * Reversing both axes of a row-major square matrix reverses its array.
     */
    static DMatrixRMaj inverseCholeskyUpper(DMatrixRMaj hessian, double damping) {
        int n = hessian.numRows;
        DMatrixRMaj work = new DMatrixRMaj(n, n);
        double[] values = hessian.data;
        double[] reversed = work.data;
        int last = n * n - 1;
        for (int i = 0; i <= last; i++) {
            reversed[i] = values[last - i];
        }
        for (int i = 0; i < n; i++) {
            double diagonal = reversed[i * n + i];
            reversed[i * n + i] = (diagonal == 0 ? 1 : diagonal) + damping;
        }
        DMatrixRBlock lower = MatrixOps_DDRB.convert(work, FACTOR_BLOCK);
        work = null;
        reversed = null;
        if (!new CholeskyOuterForm_DDRB(true).decompose(lower)) {
            return null;
        }
        DMatrixRBlock inverse = new DMatrixRBlock(n, n, FACTOR_BLOCK);
        TriangularSolver_DDRB.invert(FACTOR_BLOCK, false, new DSubmatrixD1(lower), new DSubmatrixD1(inverse), null);
        lower = null;
        DMatrixRMaj upper = MatrixOps_DDRB.convert(inverse, (DMatrixRMaj) null);
        inverse = null;
        double[] flipped = upper.data;
        for (int i = 0, j = last; i < j; i++, j--) {
            double swap = flipped[i];
            flipped[i] = flipped[j];
            flipped[j] = swap;
        }
        for (int i = 0; i < n; i++) {
            if (!(flipped[i * n + i] > 0) || !Double.isFinite(flipped[i * n + i])) {
                return null;
            }
            // the strictly lower triangle (the inverse's strictly upper one) is zero, whatever the blocks held
            Arrays.fill(flipped, i * n, i * n + i, 0.0);
        }
        return upper;
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
