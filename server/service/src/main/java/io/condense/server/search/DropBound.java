package io.condense.server.search;

import org.apache.commons.math3.distribution.NormalDistribution;

/**
 * A one-sided upper confidence bound on a candidate's quality loss, from what its evaluation counted.
 *
 * <p>A drop measured on a few thousand samples is the true drop plus sampling noise, and a search that keeps the most
 * aggressive candidate whose measured drop is within {@code max_drop} keeps the one whose noise happened to flatter it
 * (the winner's curse; bisection then drives the knob to that edge). The search therefore accepts a candidate when
 * {@code drop + z * se <= max_drop}, with z the standard normal's quantile at the spec's {@code confidence} (0.99 unless
 * it names another: z = 2.326, see {@link SearchSpec#DEFAULT_CONFIDENCE} for why).
 *
 * <p>The standard error is the paired one: the original and the candidate are evaluated on the same samples, so only the
 * discordant samples carry information about the difference: {@code b} the original gets right and the candidate wrong,
 * {@code c} the reverse; with {@code n} samples the drop is {@code (b - c) / n} and its variance
 * {@code (b + c - (b - c)^2 / n) / n^2} (McNemar's setting). Half a sample is added to each cell of the 2x2 table
 * (Agresti and Min's adjustment, {@code n + 2} samples) so that a small evaluation in which nothing changed still gets a
 * margin instead of a zero-width bound; on thousands of samples the adjustment is negligible. The bound shrinks as
 * {@code 1 / sqrt(n)}, so large evaluation sets are not made timid.
 *
 * <p>Top-1 agreement with the original (no labels) is a proportion too: its loss {@code 1 - agreement} is the share of
 * samples whose class changed, the same arithmetic with every change counted against the candidate ({@code c = 0}).
 */
final class DropBound {
    private static final NormalDistribution STANDARD_NORMAL = new NormalDistribution(null, 0, 1);

    private DropBound() {
    }

    /** The standard normal's quantile at a one-sided confidence in [0.5, 1): 0 at 0.5, 1.645 at 0.95, 2.326 at 0.99. */
    static double z(double confidence) {
        if (!(confidence >= 0.5 && confidence < 1)) {
            throw new IllegalArgumentException("confidence " + confidence + " is not in [0.5, 1)");
        }
        return STANDARD_NORMAL.inverseCumulativeProbability(confidence);
    }

    /**
     * Standard error of a paired accuracy drop.
     *
     * @param lost samples the original classifies right and the candidate wrong
     * @param gained samples the candidate classifies right and the original wrong
     * @param samples evaluated samples
     */
    static double pairedStandardError(double lost, double gained, long samples) {
        if (samples <= 0 || lost < 0 || gained < 0 || lost + gained > samples) {
            throw new IllegalArgumentException("discordant counts " + lost + " and " + gained + " do not fit " + samples + " samples");
        }
        double b = lost + 0.5;
        double c = gained + 0.5;
        double n = samples + 2.0;
        return Math.sqrt(Math.max(0, b + c - (b - c) * (b - c) / n)) / n;
    }

    /**
     * Standard error of the difference of two accuracies measured as if on independent samples: larger than the paired
     * one whenever the two models tend to be right on the same samples, so a safe stand-in when a report has no
     * discordant counts (a job evaluated by an older server).
     */
    static double unpairedStandardError(double accuracyBefore, double accuracyAfter, long samples) {
        if (samples <= 0) {
            throw new IllegalArgumentException("no samples");
        }
        return Math.sqrt((accuracyBefore * (1 - accuracyBefore) + accuracyAfter * (1 - accuracyAfter)) / samples);
    }

    /** The upper bound: {@code drop + z * standardError}. */
    static double upper(double drop, double standardError, double z) {
        return drop + z * standardError;
    }
}
