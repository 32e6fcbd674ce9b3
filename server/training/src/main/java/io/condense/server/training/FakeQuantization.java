package io.condense.server.training;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

/**
 * QuantizeLinear and DequantizeLinear as fake quantization: values stay float, QuantizeLinear rounds
 * {@code x / scale + zero_point} to the integer grid of the zero point's type (uint8 when absent) and clamps it,
 * DequantizeLinear maps back with {@code (q - zero_point) * scale}. Rounding uses a straight-through estimator
 * (its gradient is 1); clamping passes no gradient outside the range. Scales and zero points are constants: they
 * are never trained (the default trainable set leaves them out). Per-axis scales follow the node's {@code axis}
 * (default 1); blocked scales and zero points ({@code block_size}, opset 21) repeat each entry {@code block_size} times
 * along {@code axis}. Integer inputs of DequantizeLinear (stored int8 weights, 4-bit weights loaded one per byte) are
 * converted to float. A QuantizeLinear to a 4-bit zero point is refused when the graph is compiled (its range is not
 * that of the 8-bit type the runtime holds it in).
 */
final class FakeQuantization {
    private FakeQuantization() {
    }

    static NDArray[] quantize(ExecutionContext context, OnnxNode node, NDArray[] in) {
        NDArray x = in[0];
        NDArray scale = broadcastable(node, in[1], x);
        NDArray zeroPoint = in.length > 2 && in[2] != null ? in[2] : null;
        DataType type = zeroPoint == null ? DataType.UINT8 : zeroPoint.getDataType();
        float min;
        float max;
        switch (type) {
            case UINT8 -> {
                min = 0;
                max = 255;
            }
            case INT8 -> {
                min = -128;
                max = 127;
            }
            default -> throw node.unsupported("QuantizeLinear to " + type);
        }
        NDArray scaled = x.div(scale);
        NDArray rounded = scaled.add(scaled.round().sub(scaled).stopGradient());
        if (zeroPoint != null) {
            rounded = rounded.add(broadcastable(node, zeroPoint, x).toType(DataType.FLOAT32, false));
        }
        return new NDArray[] {rounded.clip(min, max)};
    }

    static NDArray[] dequantize(ExecutionContext context, OnnxNode node, NDArray[] in) {
        NDArray q = in[0].getDataType() == DataType.FLOAT32 ? in[0] : in[0].toType(DataType.FLOAT32, false);
        NDArray scale = broadcastable(node, in[1], q);
        if (in.length > 2 && in[2] != null) {
            q = q.sub(broadcastable(node, in[2], q).toType(DataType.FLOAT32, false));
        }
        return new NDArray[] {q.mul(scale)};
    }

    /**
     * A per-tensor value as is; a per-axis 1-D value reshaped to broadcast along the node's axis; a blocked value
     * ({@code block_size} > 0, opset 21: the shape of x with {@code ceil(d / block_size)} along the axis) with each entry
     * repeated {@code block_size} times along the axis and trimmed to x's size there (the last block may be shorter).
     */
    private static NDArray broadcastable(OnnxNode node, NDArray value, NDArray x) {
        long blockSize = node.getInt("block_size", 0);
        if (blockSize > 0) {
            return blocked(node, value, x, blockSize);
        }
        if (value.getShape().dimension() == 0 || value.getShape().size() == 1 && x.getShape().dimension() == 0) {
            return value;
        }
        int rank = x.getShape().dimension();
        int axis = Operators.normalizeAxis(node, node.getInt("axis", 1), rank);
        long[] shape = new long[rank];
        java.util.Arrays.fill(shape, 1);
        shape[axis] = value.getShape().size();
        return value.reshape(new Shape(shape));
    }

    private static NDArray blocked(OnnxNode node, NDArray value, NDArray x, long blockSize) {
        Shape shape = x.getShape();
        int rank = shape.dimension();
        int axis = Operators.normalizeAxis(node, node.getInt("axis", 1), rank);
        Shape valueShape = value.getShape();
        long blocks = (shape.get(axis) + blockSize - 1) / blockSize;
        boolean fits = valueShape.dimension() == rank;
        for (int i = 0; fits && i < rank; i++) {
            fits = valueShape.get(i) == (i == axis ? blocks : shape.get(i));
        }
        if (!fits) {
            throw node.invalid("a blocked scale or zero point (block_size " + blockSize + ", axis " + axis + ") must have shape "
                    + shape + " with " + blocks + " along the axis, not " + valueShape);
        }
        NDArray repeated = value.repeat(axis, blockSize);
        if (repeated.getShape().get(axis) == shape.get(axis)) {
            return repeated;
        }
        return repeated.get(":,".repeat(axis) + "0:" + shape.get(axis));
    }
}
