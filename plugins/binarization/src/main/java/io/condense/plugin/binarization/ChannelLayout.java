package io.condense.plugin.binarization;

/**
 * How a weight splits around its output-channel axis, seen as {@code [outer, channels, inner]} in C order:
 * a Conv weight {@code [out, in, kh, kw]} is {@code [1, out, in*kh*kw]}, a MatMul weight {@code [in, out]} is
 * {@code [in, out, 1]}. Element {@code (o, c, i)} sits at {@code (o * channels + c) * inner + i}.
 */
record ChannelLayout(int outer, int channels, int inner) {
    ChannelLayout {
        if (outer <= 0 || channels <= 0 || inner <= 0) {
            throw new IllegalArgumentException("a channel layout needs positive sizes, got " + outer + " x " + channels + " x " + inner);
        }
        if ((long) outer * channels * inner > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("a weight of " + outer + " x " + channels + " x " + inner
                    + " elements is larger than the 2^31 - 9 Condense handles per tensor");
        }
    }

    /** The layout of a weight of that shape whose output channels lie along {@code axis}. */
    static ChannelLayout of(long[] shape, int axis) {
        if (axis < 0 || axis >= shape.length) {
            throw new IllegalArgumentException("channel axis " + axis + " is outside a weight of rank " + shape.length);
        }
        long outer = 1;
        long inner = 1;
        for (int i = 0; i < axis; i++) {
            outer *= shape[i];
        }
        for (int i = axis + 1; i < shape.length; i++) {
            inner *= shape[i];
        }
        return new ChannelLayout(Math.toIntExact(outer), Math.toIntExact(shape[axis]), Math.toIntExact(inner));
    }

    int elements() {
        return outer * channels * inner;
    }

    /** Weights in one channel. */
    int elementsPerChannel() {
        return outer * inner;
    }
}
