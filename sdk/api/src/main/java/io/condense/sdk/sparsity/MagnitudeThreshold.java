package io.condense.sdk.sparsity;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;

/**
 * Finds the magnitude below which the k smallest weights lie, without sorting: a two-pass radix select on
 * the bit patterns of |w| (for non-negative floats the bit patterns order like the values). Weights are
 * handled as their IEEE bit patterns in {@code int[]} arrays ({@link Float#floatToRawIntBits}), so every
 * loop is integer arithmetic. Pass one
 * counts the high 15 bits, pass two the low 16 bits of the values in the chosen high bucket; each pass is
 * one sequential read of the weights and touches a histogram that fits in the CPU cache.
 *
 * <p>The answer is exact: zeroing every weight whose magnitude bits are below {@link Threshold#bits()},
 * plus the first {@link Threshold#ties()} weights (in layer order, then index order) whose bits equal it,
 * zeroes exactly k weights. NaN counts as larger than every number, so it is never pruned.
 */
public final class MagnitudeThreshold {
    public static final int MAGNITUDE_MASK = 0x7FFFFFFF;
    /** Reads and writes ints in a byte array, little-endian, as ONNX raw_data holds float32. */
    public static final VarHandle LITTLE_ENDIAN_INTS = MethodHandles.byteArrayViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);
    private static final int HIGH_BUCKETS = 1 << 15;
    private static final int LOW_BUCKETS = 1 << 16;

    /**
     * Zero every weight whose magnitude bits are below {@code bits}, and {@code ties} of those equal to it.
     *
     * @param bits the magnitude bit pattern of the k-th smallest |w|
     * @param ties how many weights with exactly that magnitude must be zeroed too
     * @param zeros how many weights are zero once pruned, over all the arrays (at least k: weights that
     *     were zero already count)
     */
    public record Threshold(int bits, long ties, long zeros) {

        public float magnitude() {
            return Float.intBitsToFloat(bits);
        }
    }

    private final int[] high = new int[HIGH_BUCKETS];
    private final int[] low = new int[LOW_BUCKETS];

    /**
     * The threshold that zeroes exactly {@code count} weights over all {@code arrays} taken together.
     *
     * @param arrays the weights, each array used in full
     * @param count how many to zero, in [0, total elements]
     */
    public Threshold find(int[][] arrays, long count) {
        long total = 0;
        for (int[] values : arrays) {
            total += values.length;
        }
        if (count < 0 || count > total) {
            throw new IllegalArgumentException("cannot zero " + count + " of " + total + " weights");
        }
        if (total == 0) {
            return new Threshold(0, 0, 0);
        }
        java.util.Arrays.fill(high, 0);
        for (int[] values : arrays) {
            countHigh(values, high);
        }
        long below = 0;
        int highBucket = 0;
        while (below + high[highBucket] < Math.max(count, 1)) {
            below += high[highBucket];
            highBucket++;
        }
        java.util.Arrays.fill(low, 0);
        for (int[] values : arrays) {
            countLow(values, highBucket, low);
        }
        int lowBucket = 0;
        while (below + low[lowBucket] < count) {
            below += low[lowBucket];
            lowBucket++;
        }
        int bits = (highBucket << 16) | lowBucket;
        // a zero threshold prunes nothing new: the zeros are those the weights already had (low[0] of bucket 0)
        long zeros = bits == 0 ? (highBucket == 0 ? low[0] : 0) : count;
        return new Threshold(bits, bits == 0 ? 0 : count - below, zeros);
    }

    private static void countHigh(int[] values, int[] histogram) {
        for (int i = 0; i < values.length; i++) {
            histogram[(values[i] & MAGNITUDE_MASK) >>> 16]++;
        }
    }

    private static void countLow(int[] values, int highBucket, int[] histogram) {
        for (int i = 0; i < values.length; i++) {
            int magnitude = values[i] & MAGNITUDE_MASK;
            if (magnitude >>> 16 == highBucket) {
                histogram[magnitude & 0xFFFF]++;
            }
        }
    }

    /** What {@link #apply} did to one array: how many tied weights it zeroed and how many non-zeros are left. */
    public record Applied(long tiesUsed, int nonZeros) {
    }

    /**
     * Writes the pruned weights to {@code out} as little-endian float32 (4 bytes a weight): the weights below
     * the threshold and up to {@code ties} weights equal to it become +0, the others are copied bit for bit.
     * {@code values} is left as it is.
     */
    public static Applied apply(int[] values, int thresholdBits, long ties, byte[] out) {
        if (out.length != values.length * 4L) {
            throw new IllegalArgumentException("output holds " + out.length + " bytes for " + values.length + " weights");
        }
        int nonZeros = 0;
        for (int i = 0; i < values.length; i++) {
            // branch-free: half the weights fall on each side in no order, so a branch would be mispredicted half the time
            int bits = values[i];
            int magnitude = bits & MAGNITUDE_MASK;
            int below = (magnitude - thresholdBits) >> 31; // all ones when magnitude < threshold (no overflow: both in [0, 2^31))
            LITTLE_ENDIAN_INTS.set(out, i << 2, bits & ~below);
            nonZeros += (-magnitude >>> 31) & ~below; // 1 when kept and not zero
        }
        long used = 0;
        if (ties > 0 && thresholdBits != 0) {
            for (int i = 0; i < values.length && used < ties; i++) {
                if ((values[i] & MAGNITUDE_MASK) == thresholdBits) {
                    LITTLE_ENDIAN_INTS.set(out, i << 2, 0);
                    used++;
                    nonZeros--;
                }
            }
        } else if (ties > 0) {
            // the threshold is zero itself: the tied weights already are zeros
            used = ties;
        }
        return new Applied(used, nonZeros);
    }

    /**
     * Prunes one array straight into sparse form: the non-zero weights that survive the threshold are
     * gathered, with their linear indices, to the front of {@code keptValues} and {@code keptIndices}, which
     * must hold at least the expected non-zeros plus one (a spare slot the branch-free loop writes into).
     *
     * @return the number of non-zeros gathered
     * @throws IllegalStateException when more weights survive than the arrays can hold
     */
    public static int applySparse(int[] values, int thresholdBits, long ties, int[] keptValues, long[] keptIndices) {
        int capacity = Math.min(keptValues.length, keptIndices.length) - 1;
        long tiesLeft = ties;
        int next = 0;
        for (int i = 0; i < values.length; i++) {
            int bits = values[i];
            int magnitude = bits & MAGNITUDE_MASK;
            int above = (thresholdBits - magnitude) >>> 31; // 1 when magnitude > threshold
            int equal = magnitude == thresholdBits ? 1 : 0;
            int tieDropped = equal & (int) ((-tiesLeft) >>> 63); // ties left to zero (tiesLeft > 0)
            tiesLeft -= tieDropped;
            int keep = above | (equal & ~tieDropped & ((-magnitude) >>> 31));
            keptValues[next] = bits;
            keptIndices[next] = i;
            next += keep;
            if (next > capacity) {
                throw new IllegalStateException("more than " + capacity + " weights survive pruning");
            }
        }
        return next;
    }
}
