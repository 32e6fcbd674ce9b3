package io.condense.plugin.coding;

import io.condense.sdk.coding.AdaptiveModel;
import io.condense.sdk.coding.MaskContext;

/**
 * The encoder's side of the format's adaptive coding: a tensor's mask of non-background elements in
 * {@link MaskContext}'s contexts, with the stride chosen by measuring, and symbol streams as binary trees of adaptively
 * coded bits (coding ADAPTIVE).
 */
final class AdaptiveCoding {
    /** Strides are compared on the first rows of a tensor, up to this many elements (at least one row). */
    private static final int STRIDE_SAMPLE = 1 << 18;
    /** At most this many strides besides 0 are tried: the smallest divisors of the row length. */
    private static final int MAX_STRIDES = 24;

    private AdaptiveCoding() {
    }

    /** The mask payload: bit {@code i} is whether {@code patterns[i]} differs from {@code background}. */
    static byte[] mask(int[] patterns, int background, int columns, int stride) {
        return mask(patterns, patterns.length, background, columns, stride);
    }

    private static byte[] mask(int[] patterns, int count, int background, int columns, int stride) {
        RangeEncoder out = new RangeEncoder();
        MaskContext context = new MaskContext(columns, stride);
        AdaptiveModel model = new AdaptiveModel(MaskContext.CONTEXTS);
        for (int i = 0; i < count; i++) {
            int bit = patterns[i] != background ? 1 : 0;
            int c = context.next();
            out.bit(model.probabilityOfZero(c), bit);
            model.update(c, bit);
            context.record(bit);
        }
        return out.finish();
    }

    /**
     * The stride that codes the mask smallest, measured on the tensor's first rows: 0 (none) or a divisor of the row
     * length below its half (a row is often an image or a stack of kernels, so the element one image or kernel row
     * back is a divisor away).
     */
    static int stride(int[] patterns, int background, int columns) {
        int sample = Math.min(patterns.length, Math.max(columns, STRIDE_SAMPLE / columns * columns));
        int best = 0;
        long bestBytes = mask(patterns, sample, background, columns, 0).length;
        int tried = 0;
        for (int stride = 2; stride <= columns / 2 && tried < MAX_STRIDES; stride++) {
            if (columns % stride == 0) {
                tried++;
                long bytes = mask(patterns, sample, background, columns, stride).length;
                if (bytes < bestBytes) {
                    bestBytes = bytes;
                    best = stride;
                }
            }
        }
        return best;
    }

    /** The payload of an ADAPTIVE stream: {@code symbols[0, count)}, each below 2^width, as binary trees of bits. */
    static byte[] symbols(int[] symbols, int count, int width) {
        RangeEncoder out = new RangeEncoder();
        AdaptiveModel model = new AdaptiveModel(1 << width);
        for (int i = 0; i < count; i++) {
            int node = 1;
            for (int b = width - 1; b >= 0; b--) {
                int bit = symbols[i] >>> b & 1;
                out.bit(model.probabilityOfZero(node), bit);
                model.update(node, bit);
                node = node << 1 | bit;
            }
        }
        return out.finish();
    }
}
