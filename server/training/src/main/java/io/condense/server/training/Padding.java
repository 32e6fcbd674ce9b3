package io.condense.server.training;

import ai.djl.ndarray.types.Shape;
import java.util.Arrays;

/**
 * The spatial padding of a Conv or pooling node: explicit {@code pads} ([begin..., end...]) or {@code auto_pad}
 * (VALID, SAME_UPPER, SAME_LOWER) resolved against the input's spatial size.
 */
record Padding(long[] begins, long[] ends) {

    static Padding resolve(OnnxNode node, Shape input, long[] kernel, long[] strides, long[] dilations) {
        int spatial = kernel.length;
        if (input.dimension() != spatial + 2) {
            throw node.invalid("a rank-" + input.dimension() + " input for a " + spatial + "-D kernel");
        }
        String autoPad = node.getString("auto_pad", "NOTSET");
        long[] begins = new long[spatial];
        long[] ends = new long[spatial];
        switch (autoPad) {
            case "NOTSET", "" -> {
                long[] pads = node.getInts("pads").orElse(new long[2 * spatial]);
                if (pads.length != 2 * spatial) {
                    throw node.invalid("pads " + Arrays.toString(pads) + " for a " + spatial + "-D kernel");
                }
                System.arraycopy(pads, 0, begins, 0, spatial);
                System.arraycopy(pads, spatial, ends, 0, spatial);
            }
            case "VALID" -> {
            }
            case "SAME_UPPER", "SAME_LOWER" -> {
                for (int i = 0; i < spatial; i++) {
                    long size = input.get(i + 2);
                    long out = (size + strides[i] - 1) / strides[i];
                    long total = Math.max(0, (out - 1) * strides[i] + (kernel[i] - 1) * dilations[i] + 1 - size);
                    long small = total / 2;
                    begins[i] = autoPad.equals("SAME_UPPER") ? small : total - small;
                    ends[i] = total - begins[i];
                }
            }
            default -> throw node.invalid("auto_pad " + autoPad);
        }
        return new Padding(begins, ends);
    }

    boolean symmetric() {
        return Arrays.equals(begins, ends);
    }

    /** The per-axis padding when symmetric, else zeros (the input is padded explicitly first). */
    Shape symmetricShape() {
        return symmetric() ? new Shape(begins) : new Shape(new long[begins.length]);
    }

    /** PyTorch's pad list: (begin, end) pairs from the last axis backwards. */
    Shape torchPadding() {
        int spatial = begins.length;
        long[] pads = new long[2 * spatial];
        for (int i = 0; i < spatial; i++) {
            int axis = spatial - 1 - i;
            pads[2 * i] = begins[axis];
            pads[2 * i + 1] = ends[axis];
        }
        return new Shape(pads);
    }
}
