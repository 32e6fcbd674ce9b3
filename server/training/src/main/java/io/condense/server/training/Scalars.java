package io.condense.server.training;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

/**
 * Scalars as tensors that PyTorch owns, for arithmetic that autograd records.
 *
 * <p>Why not DJL's {@code x.mul(2f)}: DJL builds the scalar with {@code from_blob} over a Java direct buffer and closes
 * it as soon as the operation returns. Autograd saves the scalar for the backward pass of {@code mul}, {@code div},
 * {@code maximum} and {@code minimum}, but the buffer's memory belongs to the Java heap's cleaner, so a garbage
 * collection before {@code backward} frees it and the gradient is computed from freed memory: TTQ's scale gradients
 * turned to NaN or -7,490 in one run of four, and runs with the same seed stopped being byte-identical (a collector
 * thread calling {@code System.gc()} every 2 ms made every run fail). {@link #of} allocates through PyTorch's
 * {@code full}, whose storage is reference counted by PyTorch itself and so outlives the Java handle.
 */
final class Scalars {
    private Scalars() {
    }

    /** A 0-dimensional tensor of {@code like}'s type and manager holding {@code value}. */
    static NDArray of(NDArray like, float value) {
        DataType type = like.getDataType().isFloating() ? like.getDataType() : DataType.FLOAT32;
        return like.getManager().full(new Shape(), value, type);
    }

    /** {@code x * k}, safe to differentiate. */
    static NDArray times(NDArray x, float k) {
        return x.mul(of(x, k));
    }

    /** {@code x / k}, safe to differentiate. */
    static NDArray over(NDArray x, float k) {
        return x.div(of(x, k));
    }
}
