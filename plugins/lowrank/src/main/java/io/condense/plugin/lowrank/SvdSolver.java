package io.condense.plugin.lowrank;

import static java.util.Objects.requireNonNull;

import java.util.Locale;

/**
 * Chooses between EJML's full SVD and the {@link RandomizedSvd} for one matrix. {@code AUTO} takes the randomised
 * one when the matrix is large (smaller side at least {@link #RANDOMIZED_MIN_SIDE}) and the sketch
 * ({@code rank + oversampling}) is at most a quarter of the smaller side: there a full decomposition spends most of
 * its time on singular triplets that are thrown away.
 */
public record SvdSolver(Mode mode, RandomizedSvd randomized) {
    static final int RANDOMIZED_MIN_SIDE = 512;

    public enum Mode {
        AUTO, FULL, RANDOMIZED;

        static Mode parse(String text) {
            return valueOf(text.toUpperCase(Locale.ROOT));
        }
    }

    public SvdSolver {
        requireNonNull(mode, "mode is null");
        requireNonNull(randomized, "randomized is null");
    }

    /** Whether {@link #decompose} uses the randomised SVD for a matrix of this size and rank. */
    public boolean usesRandomized(int rows, int cols, int rank) {
        int smaller = Math.min(rows, cols);
        return switch (mode) {
            case FULL -> false;
            case RANDOMIZED -> rank < smaller;
            case AUTO -> smaller >= RANDOMIZED_MIN_SIDE && 4L * (rank + randomized.oversampling()) <= smaller;
        };
    }

    public TruncatedSvd decompose(double[] matrix, int rows, int cols, int rank) {
        return usesRandomized(rows, cols, rank)
                ? randomized.decompose(matrix, rows, cols, rank)
                : TruncatedSvd.full(matrix, rows, cols, rank);
    }

    /** "randomized" or "full", for the report. */
    public String name(int rows, int cols, int rank) {
        return usesRandomized(rows, cols, rank) ? "randomized" : "full";
    }
}
