package io.condense.sdk.sparsity;

import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;

/**
 * An N:M sparsity pattern: at most {@code n} non-zeros in every group of {@code m} consecutive weights along
 * the input dimension (2:4 is what sparse tensor cores run). A trailing group shorter than {@code m} (when the
 * axis length is not a multiple of {@code m}) also keeps at most {@code n}: what it holds once zero-padded to
 * {@code m}, as the hardware pads it.
 */
public record NmPattern(int n, int m) {
    public static final String PARAMETER = "pattern";
    private static final int MAX_M = 256;

    public NmPattern {
        if (n < 1 || m < 2 || n >= m) {
            throw new IllegalArgumentException("not an N:M pattern: " + n + ":" + m);
        }
    }

    /** Parses {@code N:M}, or INVALID_PARAMETER naming {@code pattern} and saying what is wrong. */
    public static NmPattern parse(String text) {
        String problem = problem(text);
        if (problem != null) {
            throw new CondenseException(ErrorCode.INVALID_PARAMETER, "Invalid value '" + text + "' for parameter '" + PARAMETER + "': " + problem);
        }
        String trimmed = text.trim();
        int colon = trimmed.indexOf(':');
        return new NmPattern(Integer.parseInt(trimmed.substring(0, colon).trim()), Integer.parseInt(trimmed.substring(colon + 1).trim()));
    }

    /** What is wrong with {@code text} as an N:M pattern, or null when it is one: the pattern parameter's value check. */
    public static String problem(String text) {
        String trimmed = text.trim();
        int colon = trimmed.indexOf(':');
        String example = "; write N:M with 1 <= N < M, for example pattern=2:4 (at most 2 non-zeros in every 4 consecutive weights)";
        if (colon <= 0 || colon == trimmed.length() - 1) {
            return "it is not of the form N:M" + example;
        }
        int n;
        int m;
        try {
            n = Integer.parseInt(trimmed.substring(0, colon).trim());
            m = Integer.parseInt(trimmed.substring(colon + 1).trim());
        } catch (NumberFormatException e) {
            return "N and M must be whole numbers" + example;
        }
        if (m < 2 || m > MAX_M) {
            return "M must be in [2, " + MAX_M + "]" + example;
        }
        if (n < 1) {
            return "N must be at least 1 (N=0 would zero every weight)" + example;
        }
        if (n >= m) {
            return "N must be smaller than M (" + n + ":" + m + " would prune nothing)" + example;
        }
        return null;
    }

    /** The fraction of zeros the pattern gives on an axis that is a multiple of M. */
    public double sparsity() {
        return 1.0 - (double) n / m;
    }

    @Override
    public String toString() {
        return n + ":" + m;
    }
}
