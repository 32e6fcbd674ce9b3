package io.condense.plugin.lowrank;

import java.util.SplittableRandom;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;
import org.ejml.dense.row.CommonOps_MT_DDRM;
import org.ejml.dense.row.SingularOps_DDRM;
import org.ejml.dense.row.factory.DecompositionFactory_DDRM;
import org.ejml.interfaces.decomposition.QRDecomposition;
import org.ejml.interfaces.decomposition.SingularValueDecomposition_F64;

/**
 * Randomised truncated SVD (Halko, Martinsson and Tropp 2011, algorithms 4.4 and 5.1): a randomised range finder
 * with power (subspace) iterations gives an orthonormal basis Q ({@code rows x l}, {@code l = rank + oversampling})
 * whose span holds most of A's leading left singular space; then the small {@code l x cols} matrix
 * {@code B = Q^T A} is decomposed densely and {@code U = Q U_B}. It costs O(rows * cols * l) per pass over A
 * instead of O(rows * cols * min(rows, cols)) for a full SVD.
 *
 * <p>Only the range finder is written here, because EJML has no randomised SVD; everything it is built from
 * (matrix products, Householder QR for re-orthonormalisation, the dense SVD of B) is EJML's. Re-orthonormalising
 * after every product (algorithm 4.4) keeps the power iterations stable in floating point: without it the
 * columns collapse onto the leading singular vector.
 *
 * @param oversampling extra random directions beyond the rank (Halko et al. recommend 5 to 10)
 * @param powerIterations passes of {@code (A A^T)} applied to the sketch; 1 or 2 suffice for a decaying spectrum,
 *     a flat one (a random Gaussian matrix) gains little from any number
 * @param seed seed of the Gaussian test matrix
 */
public record RandomizedSvd(int oversampling, int powerIterations, long seed) {

    public RandomizedSvd {
        if (oversampling < 0) {
            throw new IllegalArgumentException("oversampling must not be negative, got " + oversampling);
        }
        if (powerIterations < 0) {
            throw new IllegalArgumentException("powerIterations must not be negative, got " + powerIterations);
        }
    }

    /** The leading {@code rank} triplets of the row-major {@code rows x cols} matrix (not modified). */
    public TruncatedSvd decompose(double[] matrix, int rows, int cols, int rank) {
        TruncatedSvd.checkArguments(matrix, rows, cols, rank);
        int sketch = Math.min(rank + oversampling, Math.min(rows, cols));
        DMatrixRMaj a = DMatrixRMaj.wrap(rows, cols, matrix);
        DMatrixRMaj basis = rangeFinder(a, sketch);

        DMatrixRMaj small = new DMatrixRMaj(sketch, cols);
        multiplyTransposedLeft(basis, a, small); // B = Q^T A
        SingularValueDecomposition_F64<DMatrixRMaj> svd = DecompositionFactory_DDRM.svd(sketch, cols, true, true, true);
        if (!svd.decompose(small)) {
            throw new ArithmeticException("the SVD of the " + sketch + " x " + cols + " sketch did not converge (NaN or infinite values?)");
        }
        DMatrixRMaj smallLeft = svd.getU(null, false);
        DMatrixRMaj w = svd.getW(null);
        DMatrixRMaj right = svd.getV(null, false);
        SingularOps_DDRM.descendingOrder(smallLeft, false, w, right, false);
        DMatrixRMaj left = new DMatrixRMaj(rows, smallLeft.numCols);
        multiply(basis, smallLeft, left); // U = Q U_B
        double[] values = new double[rank];
        for (int i = 0; i < rank; i++) {
            values[i] = w.get(i, i);
        }
        return new TruncatedSvd(rows, cols, rank, TruncatedSvd.leadingColumns(left, rows, smallLeft.numCols, rank), values,
                TruncatedSvd.leadingColumns(right, cols, right.numCols, rank));
    }

    /**
     * Algorithm 4.4 (randomised subspace iteration): Y = A G for a Gaussian G ({@code cols x sketch}), Q = qr(Y),
     * then {@code powerIterations} times Q' = qr(A^T Q), Q = qr(A Q'). Returns Q, {@code rows x sketch}, orthonormal
     * columns.
     */
    DMatrixRMaj rangeFinder(DMatrixRMaj a, int sketch) {
        int rows = a.numRows;
        int cols = a.numCols;
        DMatrixRMaj gaussian = new DMatrixRMaj(cols, sketch);
        SplittableRandom random = new SplittableRandom(seed);
        double[] data = gaussian.data;
        for (int i = 0; i < data.length; i += 2) {
            // Box-Muller: two independent standard normals from two uniforms
            double radius = Math.sqrt(-2 * Math.log(1 - random.nextDouble()));
            double angle = 2 * Math.PI * random.nextDouble();
            data[i] = radius * Math.cos(angle);
            if (i + 1 < data.length) {
                data[i + 1] = radius * Math.sin(angle);
            }
        }
        DMatrixRMaj sample = new DMatrixRMaj(rows, sketch);
        multiply(a, gaussian, sample);
        DMatrixRMaj basis = orthonormalise(sample);
        DMatrixRMaj transposedSample = new DMatrixRMaj(cols, sketch);
        for (int iteration = 0; iteration < powerIterations; iteration++) {
            multiplyTransposedLeft(a, basis, transposedSample); // A^T Q
            DMatrixRMaj transposedBasis = orthonormalise(transposedSample);
            multiply(a, transposedBasis, sample); // A Q'
            basis = orthonormalise(sample);
        }
        return basis;
    }

    /** Q of the thin Householder QR of a tall matrix (EJML). */
    static DMatrixRMaj orthonormalise(DMatrixRMaj tall) {
        QRDecomposition<DMatrixRMaj> qr = DecompositionFactory_DDRM.qr(tall.numRows, tall.numCols);
        DMatrixRMaj copy = tall.copy();
        if (!qr.decompose(copy)) {
            throw new ArithmeticException("QR of a " + tall.numRows + " x " + tall.numCols + " sketch failed (NaN or infinite values?)");
        }
        return qr.getQ(null, true);
    }

    private static void multiply(DMatrixRMaj a, DMatrixRMaj b, DMatrixRMaj out) {
        if ((long) a.numRows * a.numCols >= TruncatedSvd.CONCURRENT_ELEMENTS) {
            CommonOps_MT_DDRM.mult(a, b, out);
        } else {
            CommonOps_DDRM.mult(a, b, out);
        }
    }

    private static void multiplyTransposedLeft(DMatrixRMaj a, DMatrixRMaj b, DMatrixRMaj out) {
        if ((long) a.numRows * a.numCols >= TruncatedSvd.CONCURRENT_ELEMENTS) {
            CommonOps_MT_DDRM.multTransA(a, b, out);
        } else {
            CommonOps_DDRM.multTransA(a, b, out);
        }
    }
}
