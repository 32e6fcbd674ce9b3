package io.condense.plugin.pruning;

import ai.onnx.proto.OnnxMl.SparseTensorProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import com.google.protobuf.UnsafeByteOperations;
import io.condense.sdk.sparsity.MagnitudeThreshold;
import io.condense.sdk.tensor.DataType;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Writes pruned float32 weights as ONNX initializers: dense ({@code raw_data}, 4 bytes a weight) or sparse
 * (an ONNX {@code SparseTensorProto}: the NNZ non-zero values plus their int64 linear indices, shape
 * [NNZ], as the ONNX spec and checker require; 12 bytes a non-zero). Sparse is smaller only when fewer
 * than a third of the weights are non-zero.
 */
final class WeightEncoding {
    /** Bytes a dense float32 weight takes. */
    static final long DENSE_BYTES_PER_WEIGHT = 4;
    /** Bytes a sparse non-zero takes: its float32 value and its int64 index. */
    static final long SPARSE_BYTES_PER_NON_ZERO = 12;

    private WeightEncoding() {
    }

    static long denseBytes(long elements) {
        return elements * DENSE_BYTES_PER_WEIGHT;
    }

    static long sparseBytes(long nonZeros) {
        return nonZeros * SPARSE_BYTES_PER_NON_ZERO;
    }

    /** Whether the sparse form is strictly smaller than the dense one. */
    static boolean sparseIsSmaller(long elements, long nonZeros) {
        return sparseBytes(nonZeros) < denseBytes(elements);
    }

    /** Little-endian float32 bytes (as {@link MagnitudeThreshold#apply} writes them) as a dense initializer; not copied. */
    static TensorProto dense(String name, long[] shape, byte[] bytes) {
        TensorProto.Builder tensor = TensorProto.newBuilder().setName(name).setDataType(DataType.FLOAT.onnxCode())
                .setRawData(UnsafeByteOperations.unsafeWrap(bytes));
        for (long dim : shape) {
            tensor.addDims(dim);
        }
        return tensor.build();
    }

    /**
     * Little-endian float32 bytes (as {@link MagnitudeThreshold#apply} writes them) as a sparse initializer;
     * {@code dense} must hold exactly {@code nonZeros} weights that are not 0 or -0 (a -0 is dropped: it reads
     * back as 0).
     */
    static SparseTensorProto sparse(String name, long[] shape, byte[] dense, int nonZeros) {
        int count = dense.length / 4;
        int[] values = new int[nonZeros + 1];
        long[] indices = new long[nonZeros + 1];
        int next = 0;
        for (int i = 0; i < count; i++) {
            // branch-free gathering: every weight is written at the next free slot, which only advances past non-zeros
            int value = (int) MagnitudeThreshold.LITTLE_ENDIAN_INTS.get(dense, i << 2);
            values[next] = value;
            indices[next] = i;
            next += (-(value & MagnitudeThreshold.MAGNITUDE_MASK)) >>> 31;
            if (next > nonZeros) {
                break;
            }
        }
        if (next != nonZeros) {
            throw new IllegalStateException("counted " + nonZeros + " non-zeros in weight '" + name + "' but found "
                    + (next > nonZeros ? "more" : Integer.toString(next)));
        }
        return sparse(name, shape, values, indices, nonZeros);
    }

    /** The first {@code nonZeros} gathered values (float32 bit patterns) and linear indices as a sparse initializer. */
    static SparseTensorProto sparse(String name, long[] shape, int[] values, long[] indices, int nonZeros) {
        byte[] valueBytes = new byte[Math.multiplyExact(nonZeros, 4)];
        byte[] indexBytes = new byte[Math.multiplyExact(nonZeros, 8)];
        ByteBuffer.wrap(valueBytes).order(ByteOrder.LITTLE_ENDIAN).asIntBuffer().put(values, 0, nonZeros);
        ByteBuffer.wrap(indexBytes).order(ByteOrder.LITTLE_ENDIAN).asLongBuffer().put(indices, 0, nonZeros);
        TensorProto valueTensor = TensorProto.newBuilder().setName(name).setDataType(DataType.FLOAT.onnxCode()).addDims(nonZeros)
                .setRawData(UnsafeByteOperations.unsafeWrap(valueBytes)).build();
        TensorProto indexTensor = TensorProto.newBuilder().setName(name + "_indices").setDataType(DataType.INT64.onnxCode())
                .addDims(nonZeros).setRawData(UnsafeByteOperations.unsafeWrap(indexBytes)).build();
        SparseTensorProto.Builder sparse = SparseTensorProto.newBuilder().setValues(valueTensor).setIndices(indexTensor);
        for (long dim : shape) {
            sparse.addDims(dim);
        }
        return sparse.build();
    }
}
