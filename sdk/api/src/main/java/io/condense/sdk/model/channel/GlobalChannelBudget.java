package io.condense.sdk.model.channel;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;

/**
 * How many channels each group keeps when one threshold over the scores of all groups decides (network slimming's global
 * threshold, Liu et al. 2017): the channels with the lowest scores anywhere go first, so a layer whose scales went to zero
 * loses more than one whose scales stayed up, until {@code round(S x total)} channels are gone.
 *
 * <p>Two rules on top of the threshold:
 * <ul>
 *   <li><b>Every group keeps at least {@link #MIN_KEPT_SHARE} of its channels</b> (rounded up, at least one): a threshold
 *       across layers can otherwise empty a layer whose scales all shrank together (a convolution, BatchNormalization,
 *       Relu, convolution chain computes the same function when one layer's scales are all divided by the same factor,
 *       so an L1 penalty can shrink a whole layer at no cost to the loss) and an empty layer cuts the network.</li>
 *   <li><b>Channel multiples</b>: a group whose channel count is a multiple of {@code multiple} (and above it) loses channels
 *       in blocks of {@code multiple}, so it keeps a multiple as per-layer pruning does (ONNX Runtime's blocked convolution
 *       kernels); a block counts with the largest score in it, so a block goes only when all its channels are that low.
 *       A block that would overshoot the count is passed over for smaller ones.</li>
 * </ul>
 */
final class GlobalChannelBudget {
    /** The share of its channels every group keeps at least, whatever the global threshold says. */
    static final double MIN_KEPT_SHARE = 0.1;

    private GlobalChannelBudget() {
    }

    /** A block of {@code size} channels of group {@code group}, the {@code index}-th lowest block, with its largest score. */
    private record Block(int group, int index, int size, double score) {
    }

    /** The fewest channels a group of {@code channels} keeps: the minimum share, rounded up to whole blocks. */
    static int minimumKept(int channels, int multiple) {
        int block = blockSize(channels, multiple);
        int kept = (int) Math.max(1, Math.ceil(MIN_KEPT_SHARE * channels - 1e-9));
        return Math.min(channels, (kept + block - 1) / block * block);
    }

    /**
     * The count each group keeps, in the order of {@code scores} (one array of channel scores per group; lower goes first).
     *
     * @param sparsity the share of all the groups' channels to remove, in [0, 1)
     */
    static int[] keptCounts(List<double[]> scores, double sparsity, int multiple) {
        long total = 0;
        List<Block> blocks = new ArrayList<>();
        for (int g = 0; g < scores.size(); g++) {
            double[] sorted = scores.get(g).clone();
            Arrays.sort(sorted);
            int channels = sorted.length;
            total += channels;
            int block = blockSize(channels, multiple);
            int removable = (channels - minimumKept(channels, multiple)) / block;
            for (int k = 0; k < removable; k++) {
                blocks.add(new Block(g, k, block, sorted[(k + 1) * block - 1]));
            }
        }
        blocks.sort(Comparator.comparingDouble(Block::score).thenComparingInt(Block::group).thenComparingInt(Block::index));
        long target = Math.round(sparsity * total);
        int[] kept = new int[scores.size()];
        for (int g = 0; g < kept.length; g++) {
            kept[g] = scores.get(g).length;
        }
        long removed = 0;
        for (Block block : blocks) {
            if (removed == target) {
                break;
            }
            // blocks of one group have one size and rising scores: passing one over passes over the rest of its group too
            if (removed + block.size() <= target) {
                kept[block.group()] -= block.size();
                removed += block.size();
            }
        }
        return kept;
    }

    private static int blockSize(int channels, int multiple) {
        return multiple > 1 && channels % multiple == 0 && channels > multiple ? multiple : 1;
    }
}
