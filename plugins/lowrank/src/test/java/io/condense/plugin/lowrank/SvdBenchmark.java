package io.condense.plugin.lowrank;

import java.util.Locale;
import java.util.SplittableRandom;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_MT_DDRM;

/**
 * Full SVD (EJML) against the randomised SVD on one large matrix, in one run: time and relative Frobenius error
 * {@code ||A - U_r S_r V_r^T|| / ||A||} of each at the same rank, computed explicitly from the factors.
 *
 * <p>Two matrices: {@code decaying}, {@code A = P diag(s) Q} with {@code s_i = 0.99^i} and P, Q products of four
 * random Householder reflections each (orthogonal, dense), so the optimal error at rank r is known exactly; and
 * {@code gaussian}, i.i.d. standard normal entries (a flat spectrum: no low-rank structure to find).
 *
 * <pre>mvn -q -f plugins/lowrank/pom.xml test-compile exec:exec@benchmark   (from the project root; see README.md)</pre>
 *
 * Arguments: size (4096), rank (256), kinds (decaying,gaussian), oversampling (10), power iterations (2).
 */
public final class SvdBenchmark {
    private SvdBenchmark() {
    }

    public static void main(String[] arguments) {
        int size = arguments.length > 0 ? Integer.parseInt(arguments[0]) : 4096;
        int rank = arguments.length > 1 ? Integer.parseInt(arguments[1]) : 256;
        String[] kinds = (arguments.length > 2 ? arguments[2] : "decaying,gaussian").split(",");
        int oversampling = arguments.length > 3 ? Integer.parseInt(arguments[3]) : 10;
        int powerIterations = arguments.length > 4 ? Integer.parseInt(arguments[4]) : 2;
        RandomizedSvd randomized = new RandomizedSvd(oversampling, powerIterations, 42);
        System.out.printf(Locale.ROOT, "SVD benchmark: %d x %d at rank %d; randomized: oversampling %d, %d power iterations; "
                + "%d processors, Java %s%n", size, size, rank, oversampling, powerIterations,
                Runtime.getRuntime().availableProcessors(), System.getProperty("java.version"));
        // warm-up on a small matrix so the JIT has compiled the kernels
        double[] warm = gaussian(256, 1);
        TruncatedSvd.full(warm, 256, 256, 16);
        randomized.decompose(warm, 256, 256, 16);

        for (String kind : kinds) {
            double[] matrix;
            String optimum = "";
            if (kind.equals("decaying")) {
                double[] values = new double[size];
                double value = 1;
                double total = 0;
                double tail = 0;
                for (int i = 0; i < size; i++) {
                    values[i] = value;
                    total += value * value;
                    if (i >= rank) {
                        tail += value * value;
                    }
                    value *= 0.99;
                }
                matrix = withSpectrum(values, 4, 7);
                optimum = String.format(Locale.ROOT, " (optimal error at rank %d: %.6f)", rank, Math.sqrt(tail / total));
            } else if (kind.equals("gaussian")) {
                matrix = gaussian(size, 11);
            } else {
                throw new IllegalArgumentException("unknown matrix kind '" + kind + "': use decaying or gaussian");
            }
            System.out.printf(Locale.ROOT, "%n%s matrix%s%n", kind, optimum);

            long start = System.nanoTime();
            TruncatedSvd randomizedResult = randomized.decompose(matrix, size, size, rank);
            double randomizedSeconds = (System.nanoTime() - start) / 1e9;
            System.out.printf(Locale.ROOT, "  randomized SVD: %8.2f s, relative error %.6f%n", randomizedSeconds,
                    relativeError(matrix, size, randomizedResult, rank));

            start = System.nanoTime();
            TruncatedSvd fullResult = TruncatedSvd.full(matrix, size, size, rank);
            double fullSeconds = (System.nanoTime() - start) / 1e9;
            System.out.printf(Locale.ROOT, "  full SVD:       %8.2f s, relative error %.6f%n", fullSeconds,
                    relativeError(matrix, size, fullResult, rank));
            double largestGap = 0;
            for (int i = 0; i < rank; i++) {
                largestGap = Math.max(largestGap, Math.abs(randomizedResult.singularValue(i) - fullResult.singularValue(i))
                        / fullResult.singularValue(i));
            }
            System.out.printf(Locale.ROOT, "  speed-up %.1fx; largest relative difference of the %d singular values %.2e%n",
                    fullSeconds / randomizedSeconds, rank, largestGap);
        }
    }

    /** ||A - U_r S_r V_r^T||_F / ||A||_F, the product formed with EJML. */
    static double relativeError(double[] matrix, int size, TruncatedSvd svd, int rank) {
        DMatrixRMaj left = DMatrixRMaj.wrap(size, rank, svd.scaledLeft(rank));
        DMatrixRMaj right = DMatrixRMaj.wrap(rank, size, svd.rightTransposed(rank));
        DMatrixRMaj product = new DMatrixRMaj(size, size);
        CommonOps_MT_DDRM.mult(left, right, product);
        double difference = 0;
        double norm = 0;
        double[] approximation = product.data;
        for (int i = 0; i < matrix.length; i++) {
            double d = matrix[i] - approximation[i];
            difference += d * d;
            norm += matrix[i] * matrix[i];
        }
        return Math.sqrt(difference / norm);
    }

    static double[] gaussian(int size, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        double[] out = new double[size * size];
        for (int i = 0; i < out.length; i += 2) {
            double radius = Math.sqrt(-2 * Math.log(1 - random.nextDouble()));
            double angle = 2 * Math.PI * random.nextDouble();
            out[i] = radius * Math.cos(angle);
            if (i + 1 < out.length) {
                out[i + 1] = radius * Math.sin(angle);
            }
        }
        return out;
    }

    /** P diag(values) Q with P and Q products of {@code reflections} random Householder reflections (I - 2 v v^T). */
    static double[] withSpectrum(double[] values, int reflections, long seed) {
        int size = values.length;
        double[] matrix = new double[size * size];
        for (int i = 0; i < size; i++) {
            matrix[i * size + i] = values[i];
        }
        SplittableRandom random = new SplittableRandom(seed);
        double[] vector = new double[size];
        double[] work = new double[size];
        for (int r = 0; r < reflections; r++) {
            randomUnitVector(random, vector);
            reflectRows(matrix, size, vector, work); // H A
            randomUnitVector(random, vector);
            reflectColumns(matrix, size, vector, work); // A H
        }
        return matrix;
    }

    private static void randomUnitVector(SplittableRandom random, double[] vector) {
        double norm = 0;
        for (int i = 0; i < vector.length; i++) {
            vector[i] = random.nextDouble() - 0.5;
            norm += vector[i] * vector[i];
        }
        norm = Math.sqrt(norm);
        for (int i = 0; i < vector.length; i++) {
            vector[i] /= norm;
        }
    }

    /** A := (I - 2 v v^T) A: work = v^T A, then A -= 2 v work. */
    private static void reflectRows(double[] matrix, int size, double[] vector, double[] work) {
        java.util.Arrays.fill(work, 0);
        for (int i = 0; i < size; i++) {
            double v = vector[i];
            int row = i * size;
            for (int j = 0; j < size; j++) {
                work[j] += v * matrix[row + j];
            }
        }
        for (int i = 0; i < size; i++) {
            double v = 2 * vector[i];
            int row = i * size;
            for (int j = 0; j < size; j++) {
                matrix[row + j] -= v * work[j];
            }
        }
    }

    /** A := A (I - 2 v v^T): work = A v, then A -= 2 work v^T. */
    private static void reflectColumns(double[] matrix, int size, double[] vector, double[] work) {
        for (int i = 0; i < size; i++) {
            double sum = 0;
            int row = i * size;
            for (int j = 0; j < size; j++) {
                sum += matrix[row + j] * vector[j];
            }
            work[i] = 2 * sum;
        }
        for (int i = 0; i < size; i++) {
            double w = work[i];
            int row = i * size;
            for (int j = 0; j < size; j++) {
                matrix[row + j] -= w * vector[j];
            }
        }
    }
}
