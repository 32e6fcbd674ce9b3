package io.condense.sdk.tensor;

/**
 * How a flat weight splits around one axis (usually its output-channel axis), seen as
 * {@code [outer, channels, inner]} in C order: a Conv weight {@code [out, in, kh, kw]} along axis 0 is
 * {@code [1, out, in*kh*kw]}, a MatMul weight {@code [in, out]} along axis 1 is {@code [in, out, 1]}, and a whole
 * tensor with one scale is {@link #perTensor(int) [1, 1, elements]}. Element {@code (o, c, i)} sits at
 * {@link #index(int, int, int) (o * channels + c) * inner + i}.
 *
 * <p>Loops over a channel's elements run over the outer index, then over a run of {@code inner} consecutive
 * elements starting at {@code index(o, c, 0)}; the methods here only compute, so nothing is allocated per
 * element. Sizes may be zero (an empty weight); the element count must fit the 2^31 - 9 Condense handles per
 * tensor.
 */
public record ChannelLayout(int outer, int channels, int inner) {
    public ChannelLayout {
        if (outer < 0 || channels < 0 || inner < 0) {
            throw new IllegalArgumentException("a channel layout needs sizes of at least 0, got " + outer + " x " + channels + " x " + inner);
        }
        if ((long) outer * channels * inner > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("a weight of " + outer + " x " + channels + " x " + inner
                    + " elements is larger than the 2^31 - 9 Condense handles per tensor");
        }
    }

    /** The layout of a tensor of that shape split along {@code axis}. */
    public static ChannelLayout of(long[] shape, int axis) {
        if (shape == null) {
            throw new NullPointerException("shape is null");
        }
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

    /** One channel holding every element: what a per-tensor scale sees. */
    public static ChannelLayout perTensor(int elements) {
        return new ChannelLayout(1, 1, elements);
    }

    /** All elements. */
    public int elements() {
        return outer * channels * inner;
    }

    /** Elements in one channel. */
    public int elementsPerChannel() {
        return outer * inner;
    }

    /** Whether the split is really along an axis, not the {@link #perTensor(int) whole tensor} as one channel. */
    public boolean perChannel() {
        return channels != 1 || elements() != inner;
    }

    /** The flat index of element {@code (outerIndex, channel, innerIndex)}; not range-checked (hot loops). */
    public int index(int outerIndex, int channel, int innerIndex) {
        return (outerIndex * channels + channel) * inner + innerIndex;
    }

    /** The channel of the element at flat index {@code index}; not range-checked (hot loops). */
    public int channelOf(int index) {
        return (index / inner) % channels;
    }
}
