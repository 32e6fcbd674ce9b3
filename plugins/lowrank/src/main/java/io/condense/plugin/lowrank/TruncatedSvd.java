package io.condense.plugin.lowrank;

import static java.util.Objects.requireNonNull;

import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.SingularOps_DDRM;
import org.ejml.dense.row.factory.DecompositionFactory_DDRM;
import org.ejml.dense.row.factory.DecompositionFactory_MT_DDRM;
import org.ejml.interfaces.decomposition.SingularValueDecomposition_F64;

/**
 * The leading {@code rank} singular triplets of a {@code rows x cols} matrix: {@code A ~ U diag(s) V^T}, with U
 * ({@code rows x rank}) and V ({@code cols x rank}) stored row-major in flat arrays and the singular values in
 * descending order. Made by {@link #full} (EJML's dense SVD, then truncated) or by {@link RandomizedSvd}.
 */
public final class TruncatedSvd {
    /** Matrices with at least this many elements use EJML's multi-threaded kernels. */
    static final int CONCURRENT_ELEMENTS = 1 << 16;

    private final int rows;
    private final int cols;
    private final int rank;
    private final double[] left;
    private final double[] singularValues;
    private final double[] right;

    TruncatedSvd(int rows, int cols, int rank, double[] left, double[] singularValues, double[] right) {
        this.rows = rows;
        this.cols = cols;
        this.rank = rank;
        this.left = requireNonNull(left, "left is null");
        this.singularValues = requireNonNull(singularValues, "singularValues is null");
        this.right = requireNonNull(right, "right is null");
        if (left.length != rows * rank || right.length != cols * rank || singularValues.length != rank) {
            throw new IllegalArgumentException("factor sizes " + left.length + ", " + singularValues.length + ", " + right.length
                    + " do not fit a " + rows + " x " + cols + " matrix at rank " + rank);
        }
    }

    /**
     * The full SVD by EJML (Golub-Kahan bidiagonalisation and implicit QR), truncated to {@code rank}. Costs
     * O(rows * cols * min(rows, cols)) whatever the rank.
     *
     * @param matrix row-major {@code rows x cols}, not modified
     */
    public static TruncatedSvd full(double[] matrix, int rows, int cols, int rank) {
        checkArguments(matrix, rows, cols, rank);
        DMatrixRMaj a = DMatrixRMaj.wrap(rows, cols, matrix.clone());
        int smaller = Math.min(rows, cols);
        boolean concurrent = (long) rows * cols >= CONCURRENT_ELEMENTS;
        SingularValueDecomposition_F64<DMatrixRMaj> svd = concurrent
                ? DecompositionFactory_MT_DDRM.svd(rows, cols, true, true, true)
                : DecompositionFactory_DDRM.svd(rows, cols, true, true, true);
        if (!svd.decompose(a)) {
            throw new ArithmeticException("the SVD of a " + rows + " x " + cols + " matrix did not converge (NaN or infinite values?)");
        }
        DMatrixRMaj u = svd.getU(null, false);
        DMatrixRMaj w = svd.getW(null);
        DMatrixRMaj v = svd.getV(null, false);
        SingularOps_DDRM.descendingOrder(u, false, w, v, false);
        double[] values = new double[rank];
        for (int i = 0; i < rank; i++) {
            values[i] = w.get(i, i);
        }
        return new TruncatedSvd(rows, cols, rank, leadingColumns(u, rows, smaller, rank),
                values, leadingColumns(v, cols, smaller, rank));
    }

    static void checkArguments(double[] matrix, int rows, int cols, int rank) {
        requireNonNull(matrix, "matrix is null");
        if (rows <= 0 || cols <= 0 || matrix.length != rows * cols) {
            throw new IllegalArgumentException("a " + rows + " x " + cols + " matrix needs " + ((long) rows * cols)
                    + " values, got " + matrix.length);
        }
        if (rank <= 0 || rank > Math.min(rows, cols)) {
            throw new IllegalArgumentException("rank must be in [1, " + Math.min(rows, cols) + "] for a " + rows + " x " + cols
                    + " matrix, got " + rank);
        }
    }

    /** The first {@code rank} columns of a {@code rows x columns} EJML matrix, row-major. */
    static double[] leadingColumns(DMatrixRMaj matrix, int rows, int columns, int rank) {
        if (matrix.numRows != rows || matrix.numCols < rank) {
            throw new IllegalStateException("expected a " + rows + " x " + columns + " factor, got " + matrix.numRows + " x "
                    + matrix.numCols);
        }
        double[] data = matrix.data;
        int stride = matrix.numCols;
        double[] out = new double[rows * rank];
        for (int i = 0; i < rows; i++) {
            System.arraycopy(data, i * stride, out, i * rank, rank);
        }
        return out;
    }

    public int rows() {
        return rows;
    }

    public int cols() {
        return cols;
    }

    public int rank() {
        return rank;
    }

    /** Singular value {@code i} (descending). */
    public double singularValue(int index) {
        return singularValues[index];
    }

    /** A copy of the singular values, descending. */
    public double[] singularValues() {
        return singularValues.clone();
    }

    /** U[row, component]. */
    public double left(int row, int component) {
        return left[row * rank + component];
    }

    /** V[col, component]. */
    public double right(int col, int component) {
        return right[col * rank + component];
    }

    /** Sum of the squares of the first {@code count} singular values. */
    public double energy(int count) {
        if (count < 0 || count > rank) {
            throw new IllegalArgumentException("count must be in [0, " + rank + "], got " + count);
        }
        double sum = 0;
        for (int i = 0; i < count; i++) {
            sum += singularValues[i] * singularValues[i];
        }
        return sum;
    }

    /**
     * The first factor {@code U_r diag(s_r)} ({@code rows x r}, row-major) of the rank-{@code r} approximation
     * {@code (U_r S_r)(V_r^T)}.
     */
    public double[] scaledLeft(int r) {
        checkPrefix(r);
        double[] out = new double[rows * r];
        for (int i = 0; i < rows; i++) {
            int from = i * rank;
            int to = i * r;
            for (int k = 0; k < r; k++) {
                out[to + k] = left[from + k] * singularValues[k];
            }
        }
        return out;
    }

    /** The second factor {@code V_r^T} ({@code r x cols}, row-major). */
    public double[] rightTransposed(int r) {
        checkPrefix(r);
        double[] out = new double[r * cols];
        for (int j = 0; j < cols; j++) {
            int from = j * rank;
            for (int k = 0; k < r; k++) {
                out[k * cols + j] = right[from + k];
            }
        }
        return out;
    }

    /** The rank-{@code r} approximation {@code U_r S_r V_r^T}, row-major {@code rows x cols}. */
    public double[] reconstruct(int r) {
        checkPrefix(r);
        double[] transposed = rightTransposed(r);
        double[] out = new double[rows * cols];
        for (int i = 0; i < rows; i++) {
            int leftRow = i * rank;
            int outRow = i * cols;
            for (int k = 0; k < r; k++) {
                double scale = left[leftRow + k] * singularValues[k];
                int rightRow = k * cols;
                for (int j = 0; j < cols; j++) {
                    out[outRow + j] += scale * transposed[rightRow + j];
                }
            }
        }
        return out;
    }

    private void checkPrefix(int r) {
        if (r <= 0 || r > rank) {
            throw new IllegalArgumentException("rank must be in [1, " + rank + "] (the triplets computed), got " + r);
        }
    }
}
