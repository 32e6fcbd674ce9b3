package io.condense.sdk.coding;

import java.util.Arrays;

/**
 * The probability model of the format's adaptive binary coding ({@code docs/FORMAT.md}, "Adaptive binary coding"),
 * shared by the encoder and every decoder so both sides predict the same: per context, how many zeros and ones were
 * coded so far (each starts at one half), the probability of a zero being their ratio in 1/65536 units; when a context
 * has seen more than {@link #COUNT_LIMIT} halves, both counts are halved, so a context follows a drifting source.
 * Counts rather than a shifted estimate (as LZMA's) because the masks and indices it codes are stationary, where
 * counts converge to the true frequency.
 */
public final class AdaptiveModel {
    /** Above this sum of the two counts (in halves) both are halved, rounding up. */
    public static final int COUNT_LIMIT = 1024;

    private final int[] zeros;
    private final int[] ones;

    public AdaptiveModel(int contexts) {
        zeros = new int[contexts];
        ones = new int[contexts];
        Arrays.fill(zeros, 1);
        Arrays.fill(ones, 1);
    }

    /** The probability that the next bit in {@code context} is 0, in 1/65536 units: between 63 and 65,473. */
    public int probabilityOfZero(int context) {
        return (int) (((long) zeros[context] << 16) / (zeros[context] + ones[context]));
    }

    /** Counts {@code bit} in {@code context}. */
    public void update(int context, int bit) {
        if (bit == 0) {
            zeros[context] += 2;
        } else {
            ones[context] += 2;
        }
        if (zeros[context] + ones[context] > COUNT_LIMIT) {
            zeros[context] = (zeros[context] + 1) >>> 1;
            ones[context] = (ones[context] + 1) >>> 1;
        }
    }
}
