package io.condense.sdk.linalg;

import java.util.stream.IntStream;

/**
 * The factor that GPTQ and SparseGPT walk a layer's input features along, in float32 (as their reference
 * implementations), as n rows of n floats: U upper triangular with U^T U = (H + damping I)^-1.
 *
 * <p>With J the reversal of the features, J (H + damping I) J = M M^T (M its lower Cholesky factor) gives
 * (H + damping I)^-1 = (J M^-1 J)^T (J M^-1 J), and J M^-1 J is upper triangular. So: the lower triangle of the reversed,
 * damped H is factored in place, inverted in place, and read backwards (the rows in reverse order, each row reversed) it
 * is U. About 2/3 n^3 floating-point operations and n^2 floats besides H (inverting H and factoring the inverse takes
 * about 2 n^3 and a second matrix).
 *
 * <p>Written by hand because EJML, the linear algebra library the plugins use, reached about 8.6 GFLOPS with its
 * threaded float block kernels on two cores (100 s of a 7B decoder block's GPTQ went to the 11008-wide factor of
 * down_proj) and needs H copied into its block layout and a second matrix for the inverse; this class reaches 33 to 48
 * GFLOPS on the same cores (4096-wide: 1.2 s against 5.3 s). Both phases are blocked the same way: {@value #PANEL}
 * columns (or rows) at a time; their bulk is a rank-{@value #PANEL} update done as multiply-adds along rows, four
 * operand rows per pass ({@link #multiplySubtract4}), over tiles of {@value #ROW_TILE} rows and chunks of
 * {@value #CHUNK} columns, so that the chunk of operand rows (256 KB) stays in cache while the tile takes it; the tiles
 * or chunks are shared among the common pool's threads. The arithmetic per element does not depend on the threads.
 *
 * <p>The matrices are arrays of rows, and every inner loop indexes each of its arrays with the loop variable alone
 * ({@code row[j] -= c0 * x0[j] + ...}): HotSpot's C2 (Java 17) turns such a loop into vector instructions, but not one
 * whose arrays are indexed at different offsets ({@code a[rowStart + j]} against {@code p[panelStart + j]}), which it
 * cannot prove do not overlap: measured on one core of an AVX-512 CPU, 37 GFLOPS against 8 for the same four-row
 * multiply-add over 512 floats. Callers that update rows against U (GPTQ's and SparseGPT's error feedback) use the same
 * kernels ({@link #multiplySubtract}, {@link #multiplySubtractRows}) for the same reason.
 */
public final class InverseCholesky {
    /** Columns per panel of the factor, rows per block of the inverse. */
    static final int PANEL = 128;
    /** Rows per tile of the factor's trailing update. */
    private static final int ROW_TILE = 32;
    /** Columns per chunk of the trailing update and of the inverse's product (the operand rows' chunk: 256 KB). */
    private static final int CHUNK = 512;

    private InverseCholesky() {
    }

    /**
     * @param hessian row-major n x n, symmetric (not changed)
     * @param damping added to the diagonal
     * @param zeroDiagonal what a diagonal element 0 (a feature no calibration input reached) counts as before the damping:
     *     GPTQ takes 1 (its weights then round to nearest), SparseGPT 0 (the damping alone: removing them costs nothing)
     * @return U by rows (strictly lower triangle 0), or null when H + damping I is not positive definite in float32
     */
    public static float[][] upper(double[] hessian, int n, double damping, double zeroDiagonal) {
        float[][] a = new float[n][n];
        long last = (long) n * n - 1;
        for (int i = 0; i < n; i++) {
            float[] row = a[i];
            long at = last - (long) i * n;
            for (int j = 0; j <= i; j++) {
                double value = hessian[(int) (at - j)];
                if (i == j) {
                    value = (value == 0 ? zeroDiagonal : value) + damping;
                }
                row[j] = (float) value;
            }
        }
        if (!factorLower(a, n)) {
            return null;
        }
        invertLower(a, n);
        for (int front = 0, back = n - 1; front < back; front++, back--) {
            float[] swap = a[front];
            a[front] = a[back];
            a[back] = swap;
        }
        for (int i = 0; i < n; i++) {
            float[] row = a[i];
            for (int front = 0, back = n - 1; front < back; front++, back--) {
                float swap = row[front];
                row[front] = row[back];
                row[back] = swap;
            }
            if (!(row[i] > 0)) {
                return null;
            }
            for (int j = i; j < n; j++) {
                if (!Float.isFinite(row[j])) {
                    return null;
                }
            }
        }
        return a;
    }

    /**
     * Lower Cholesky factor of the lower triangle of {@code a}, in place (the strictly upper triangle is neither read nor
     * written), right-looking by panels; false when a pivot is not positive.
     */
    static boolean factorLower(float[][] a, int n) {
        // the panel's columns below its diagonal block as rows, panel[k][j] = L[j][start + k], so that the trailing update
        // runs along rows of both operands at the same index
        float[][] panel = new float[Math.min(PANEL, n)][n];
        float[][] diagonalT = new float[PANEL][PANEL];
        for (int panelStart = 0; panelStart < n; panelStart += PANEL) {
            int start = panelStart;
            int end = Math.min(n, start + PANEL);
            int width = end - start;
            if (!factorDiagonalBlock(a, start, end, diagonalT)) {
                return false;
            }
            int below = n - end;
            if (below == 0) {
                break;
            }
            int tiles = (below + ROW_TILE - 1) / ROW_TILE;
            IntStream.range(0, tiles).parallel().forEach(tile -> {
                float[] solved = new float[PANEL];
                int first = end + tile * ROW_TILE;
                int lastRow = Math.min(n, first + ROW_TILE);
                for (int i = first; i < lastRow; i++) {
                    solvePanelRow(a[i], start, width, diagonalT, solved);
                    for (int k = 0; k < width; k++) {
                        panel[k][i] = solved[k];
                    }
                }
            });
            IntStream.range(0, tiles).parallel().forEach(tile -> {
                int first = end + tile * ROW_TILE;
                updateTrailing(a, first, Math.min(n, first + ROW_TILE), end, start, width, panel);
            });
        }
        return true;
    }

    /** The diagonal block's own factor (double sums: it is small), and its transpose for the panel's solves. */
    private static boolean factorDiagonalBlock(float[][] a, int start, int end, float[][] diagonalT) {
        for (int j = start; j < end; j++) {
            float[] rowJ = a[j];
            double pivot = rowJ[j];
            for (int k = start; k < j; k++) {
                pivot -= (double) rowJ[k] * rowJ[k];
            }
            if (!(pivot > 0) || !Double.isFinite(pivot)) {
                return false;
            }
            float root = (float) Math.sqrt(pivot);
            rowJ[j] = root;
            for (int i = j + 1; i < end; i++) {
                float[] rowI = a[i];
                double sum = rowI[j];
                for (int k = start; k < j; k++) {
                    sum -= (double) rowI[k] * rowJ[k];
                }
                rowI[j] = (float) (sum / root);
            }
        }
        for (int j = start; j < end; j++) {
            for (int k = start; k <= j; k++) {
                diagonalT[k - start][j - start] = a[j][k];
            }
        }
        return true;
    }

    /**
     * Row i of the panel: x L11^T = row[start:start+width], by forward substitution along the rows of L11^T, in
     * {@code solved} (indexed from 0 as L11^T's rows) and written back to the row.
     */
    private static void solvePanelRow(float[] row, int start, int width, float[][] diagonalT, float[] solved) {
        System.arraycopy(row, start, solved, 0, width);
        for (int k = 0; k < width; k++) {
            float[] transposed = diagonalT[k];
            float x = solved[k] / transposed[k];
            solved[k] = x;
            for (int j = k + 1; j < width; j++) {
                solved[j] -= x * transposed[j];
            }
        }
        System.arraycopy(solved, 0, row, start, width);
    }

    /**
     * A[i, from:i+1] -= L[i, start:start+width] L[from:i+1, start:start+width]^T for the tile's rows i in
     * {@code [firstRow, lastRow)}, by chunks of columns, four of the panel's columns per pass.
     */
    private static void updateTrailing(float[][] a, int firstRow, int lastRow, int from, int start, int width, float[][] panel) {
        for (int chunk = from; chunk < lastRow; chunk += CHUNK) {
            int chunkEnd = Math.min(lastRow, chunk + CHUNK);
            for (int i = Math.max(firstRow, chunk); i < lastRow; i++) {
                float[] row = a[i];
                int end = Math.min(chunkEnd, i + 1);
                int k = 0;
                for (; k + 3 < width; k += 4) {
                    multiplySubtract4(row, row[start + k], panel[k], row[start + k + 1], panel[k + 1], row[start + k + 2], panel[k + 2],
                            row[start + k + 3], panel[k + 3], chunk, end);
                }
                for (; k < width; k++) {
                    multiplySubtract(row, row[start + k], panel[k], chunk, end);
                }
            }
        }
    }

    /** target[j] -= c0 x0[j] + c1 x1[j] + c2 x2[j] + c3 x3[j] for j in [from, to): the one kernel of the bulk. */
    public static void multiplySubtract4(float[] target, float c0, float[] x0, float c1, float[] x1, float c2, float[] x2, float c3, float[] x3,
            int from, int to) {
        for (int j = from; j < to; j++) {
            target[j] -= c0 * x0[j] + c1 * x1[j] + c2 * x2[j] + c3 * x3[j];
        }
    }

    /**
     * target[from:to] -= the sum over i < count of coefficients[indices[i]] x rows[offset + indices[i]][from:to], four rows
     * per pass: a row's update after a block of GPTQ's or SparseGPT's features (their errors against U's block rows).
     */
    public static void multiplySubtractRows(float[] target, float[] coefficients, int[] indices, int count, float[][] rows, int offset,
            int from, int to) {
        int i = 0;
        for (; i + 3 < count; i += 4) {
            int j0 = indices[i];
            int j1 = indices[i + 1];
            int j2 = indices[i + 2];
            int j3 = indices[i + 3];
            multiplySubtract4(target, coefficients[j0], rows[offset + j0], coefficients[j1], rows[offset + j1], coefficients[j2],
                    rows[offset + j2], coefficients[j3], rows[offset + j3], from, to);
        }
        for (; i < count; i++) {
            multiplySubtract(target, coefficients[indices[i]], rows[offset + indices[i]], from, to);
        }
    }

    /** target[j] -= c x[j] for j in [from, to). */
    public static void multiplySubtract(float[] target, float c, float[] x, int from, int to) {
        for (int j = from; j < to; j++) {
            target[j] -= c * x[j];
        }
    }

    /**
     * The inverse of the lower triangular {@code a} (its strictly upper triangle 0), in place, by blocks of
     * {@value #PANEL} rows from the top: for rows R of a block, X[R, :start] = -M[R,R]^-1 M[R, :start] X[:start, :start],
     * the product first (chunks of columns in parallel), then the block's rows in order (columns split among threads).
     */
    static void invertLower(float[][] a, int n) {
        float[][] product = new float[Math.min(PANEL, n)][n];
        float[][] block = new float[PANEL][PANEL];
        for (int blockStart = 0; blockStart < n; blockStart += PANEL) {
            int start = blockStart;
            int end = Math.min(n, start + PANEL);
            int height = end - start;
            if (start > 0) {
                int chunks = (start + CHUNK - 1) / CHUNK;
                IntStream.range(0, chunks).parallel().forEach(chunk -> productChunk(a, start, height, chunk * CHUNK,
                        Math.min(start, (chunk + 1) * CHUNK), product));
            }
            for (int r = 0; r < height; r++) {
                System.arraycopy(a[start + r], start, block[r], 0, r + 1);
            }
            int parts = (end + CHUNK - 1) / CHUNK;
            IntStream.range(0, parts).parallel().forEach(part -> solveBlockRows(a, start, height, part * CHUNK,
                    Math.min(end, (part + 1) * CHUNK), product, block));
        }
    }

    /**
     * product[r, from:to] = sum over k in [from, start) of M[start + r, k] X[k, from:to] for the block's rows; X[k, c]
     * is 0 for c > k, so k starts at the chunk's first column and each pass stops at its last row's diagonal.
     */
    private static void productChunk(float[][] a, int start, int height, int from, int to, float[][] product) {
        for (int r = 0; r < height; r++) {
            java.util.Arrays.fill(product[r], from, to, 0f);
        }
        for (int kChunk = from; kChunk < start; kChunk += CHUNK) {
            int kEnd = Math.min(start, kChunk + CHUNK);
            for (int r = 0; r < height; r++) {
                float[] row = a[start + r];
                float[] out = product[r];
                int k = kChunk;
                // out[c] += ... written as out[c] -= (-m) ... to share the kernel
                for (; k + 3 < kEnd; k += 4) {
                    multiplySubtract4(out, -row[k], a[k], -row[k + 1], a[k + 1], -row[k + 2], a[k + 2], -row[k + 3], a[k + 3], from,
                            Math.min(to, k + 4));
                }
                for (; k < kEnd; k++) {
                    multiplySubtract(out, -row[k], a[k], from, Math.min(to, k + 1));
                }
            }
        }
    }

    /**
     * Columns {@code [from, to)} of the block's rows of X, in row order: X[i, c] = -(product[i, c] + sum over the block's
     * earlier rows q of M[i, q] X[q, c]) / M[i, i], X[i, i] = 1 / M[i, i]. A column of X depends only on the same column
     * of earlier rows, so the column ranges are independent.
     */
    private static void solveBlockRows(float[][] a, int start, int height, int from, int to, float[][] product, float[][] block) {
        for (int r = 0; r < height; r++) {
            int i = start + r;
            float[] row = a[i];
            int rowEnd = Math.min(to, i);
            int fromProduct = Math.min(rowEnd, start);
            if (from < fromProduct) {
                System.arraycopy(product[r], from, row, from, fromProduct - from);
            }
            for (int c = Math.max(from, start); c < rowEnd; c++) {
                row[c] = 0f;
            }
            float[] m = block[r];
            for (int q = 0; q < r; q++) {
                multiplySubtract(row, -m[q], a[start + q], from, Math.min(rowEnd, start + q + 1));
            }
            float inverse = 1 / m[r];
            for (int c = from; c < rowEnd; c++) {
                row[c] *= -inverse;
            }
            if (i >= from && i < to) {
                row[i] = inverse;
            }
        }
    }
}
