package io.condense.sdk.model;

import static java.util.Objects.requireNonNull;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import com.google.protobuf.UnsafeByteOperations;
import io.condense.sdk.tensor.DataType;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import java.util.OptionalInt;

/**
 * Writes a weight in QDQ form: integer levels, a float scale (one per channel along an axis, or one for the whole
 * tensor) and a zero point, read by a DequantizeLinear node whose output replaces the weight input of the layers
 * ({@code w ~ (level - zero_point) * scale}). {@link #write} does it all for one levels tensor; the other methods
 * are its parts, for techniques that write several levels tensors per weight (binary bases summed, say).
 *
 * <p>Levels are int8 or uint8 (one byte each, the caller's array wrapped as is: do not change it afterwards), or
 * int4 or uint4 (one level per byte given, packed two per byte here, the first in the low nibble). DequantizeLinear
 * needs opset {@value #PER_TENSOR_OPSET} per tensor, {@value #PER_AXIS_OPSET} with an {@code axis}, and
 * {@value #FOUR_BIT_OPSET} for 4-bit levels: call {@link ModelEditor#requireOpset} first.
 */
public final class QdqWeights {
    /** DequantizeLinear with one scale for the whole tensor. */
    public static final long PER_TENSOR_OPSET = 10;
    /** DequantizeLinear with its {@code axis} attribute (a scale per channel). */
    public static final long PER_AXIS_OPSET = 13;
    /** DequantizeLinear of int4 and uint4 levels. */
    public static final long FOUR_BIT_OPSET = 21;

    private QdqWeights() {
    }

    /**
     * Puts the levels, scales and a zero point of 0 into the model, adds the DequantizeLinear node and points the
     * layers' weight input at its output. Names are made unique from the weight's: {@code <weight>_<levelsSuffix>},
     * {@code _scale}, {@code _zero_point}, {@code _dequantized}, {@code _DequantizeLinear}.
     *
     * @param axis the axis the scales run along (they must be as many as its size), or empty for one scale
     * @return the name of the dequantized value the layers now read
     */
    public static String write(ModelEditor editor, String weightName, List<WeightLayer> layers, String levelsSuffix, DataType type,
            long[] shape, byte[] levels, float[] scales, OptionalInt axis) {
        requireNonNull(editor, "editor is null");
        requireNonNull(weightName, "weightName is null");
        requireNonNull(layers, "layers is null");
        requireNonNull(levelsSuffix, "levelsSuffix is null");
        requireNonNull(scales, "scales is null");
        requireNonNull(axis, "axis is null");
        boolean perAxis = axis.isPresent();
        if (perAxis && (axis.getAsInt() < 0 || axis.getAsInt() >= shape.length || shape[axis.getAsInt()] != scales.length)) {
            throw new IllegalArgumentException(scales.length + " scales along axis " + axis.getAsInt() + " do not fit a weight of rank "
                    + shape.length);
        }
        String levelsName = editor.uniqueName(weightName + "_" + levelsSuffix);
        String scaleName = editor.uniqueName(weightName + "_scale");
        String zeroPointName = editor.uniqueName(weightName + "_zero_point");
        String outputName = editor.uniqueName(weightName + "_dequantized");
        String nodeName = editor.uniqueName(weightName + "_DequantizeLinear");
        editor.putInitializer(levels(levelsName, type, shape, levels));
        editor.putInitializer(scales(scaleName, scales, perAxis));
        editor.putInitializer(zeroPoint(zeroPointName, type, scales.length, perAxis));
        editor.addNode(dequantizeLinear(nodeName, levelsName, scaleName, zeroPointName, outputName, axis));
        rewire(editor, layers, weightName, outputName);
        return outputName;
    }

    /** A levels initializer of that shape: int8/uint8 wrapping {@code levels}, int4/uint4 packed from one level per byte. */
    public static TensorProto levels(String name, DataType type, long[] shape, byte[] levels) {
        requireNonNull(name, "name is null");
        requireNonNull(shape, "shape is null");
        requireNonNull(levels, "levels is null");
        long elements = 1;
        for (long dimension : shape) {
            elements = Math.multiplyExact(elements, dimension);
        }
        if (elements != levels.length) {
            throw new IllegalArgumentException(levels.length + " levels do not fill a weight of " + elements + " elements");
        }
        TensorProto.Builder tensor = TensorProto.newBuilder().setName(name).setDataType(checkLevelType(type).onnxCode())
                .setRawData(UnsafeByteOperations.unsafeWrap(type.bits() == 4 ? packNibbles(levels) : levels));
        for (long dimension : shape) {
            tensor.addDims(dimension);
        }
        return tensor.build();
    }

    /** A float32 scale initializer: a vector when {@code perAxis}, else a scalar (then {@code scales} holds one). */
    public static TensorProto scales(String name, float[] scales, boolean perAxis) {
        requireNonNull(name, "name is null");
        requireNonNull(scales, "scales is null");
        if (!perAxis && scales.length != 1) {
            throw new IllegalArgumentException("a per-tensor scale is one value, got " + scales.length);
        }
        byte[] bytes = new byte[scales.length * 4];
        ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().put(scales);
        TensorProto.Builder tensor = TensorProto.newBuilder().setName(name).setDataType(DataType.FLOAT.onnxCode())
                .setRawData(UnsafeByteOperations.unsafeWrap(bytes));
        if (perAxis) {
            tensor.addDims(scales.length);
        }
        return tensor.build();
    }

    /** A zero point of 0 of the levels' type: {@code count} of them when {@code perAxis}, else a scalar. */
    public static TensorProto zeroPoint(String name, DataType type, int count, boolean perAxis) {
        requireNonNull(name, "name is null");
        if (!perAxis && count != 1) {
            throw new IllegalArgumentException("a per-tensor zero point is one value, got " + count);
        }
        TensorProto.Builder tensor = TensorProto.newBuilder().setName(name).setDataType(checkLevelType(type).onnxCode());
        if (perAxis) {
            tensor.addDims(count);
        }
        return tensor.setRawData(UnsafeByteOperations.unsafeWrap(new byte[Math.toIntExact(type.byteSize(count))])).build();
    }

    /**
     * A DequantizeLinear node reading {@code levels}, {@code scales} and {@code zeroPoint} (null to leave it out: a
     * zero point of 0 and int8 levels) into {@code output}, with the {@code axis} attribute when one is given.
     */
    public static NodeProto dequantizeLinear(String nodeName, String levels, String scales, String zeroPoint, String output,
            OptionalInt axis) {
        requireNonNull(nodeName, "nodeName is null");
        requireNonNull(levels, "levels is null");
        requireNonNull(scales, "scales is null");
        requireNonNull(output, "output is null");
        requireNonNull(axis, "axis is null");
        NodeProto.Builder node = NodeProto.newBuilder().setOpType("DequantizeLinear").setName(nodeName).addInput(levels).addInput(scales);
        if (zeroPoint != null) {
            node.addInput(zeroPoint);
        }
        node.addOutput(output);
        if (axis.isPresent()) {
            node.addAttribute(AttributeProto.newBuilder().setName("axis").setType(AttributeProto.AttributeType.INT).setI(axis.getAsInt()));
        }
        return node.build();
    }

    /**
     * Points every input of the layers' nodes that reads {@code weightName} at {@code value} instead, and every other node
     * of the graph that reads the weight too: a weight shared with nodes that are not layers (a transformer's embedding
     * table tied to its output head, read by a Gather and a MatMul) is then stored once, compressed, instead of once
     * compressed for the layers and once in float for the others.
     */
    public static void rewire(ModelEditor editor, List<WeightLayer> layers, String weightName, String value) {
        requireNonNull(editor, "editor is null");
        requireNonNull(layers, "layers is null");
        requireNonNull(weightName, "weightName is null");
        requireNonNull(value, "value is null");
        editor.replaceInput(weightName, value);
    }

    private static DataType checkLevelType(DataType type) {
        requireNonNull(type, "type is null");
        return switch (type) {
            case INT8, UINT8, INT4, UINT4 -> type;
            default -> throw new IllegalArgumentException("DequantizeLinear levels are int8, uint8, int4 or uint4, not " + type);
        };
    }

    private static byte[] packNibbles(byte[] levels) {
        byte[] packed = new byte[(levels.length + 1) / 2];
        int pairs = levels.length / 2;
        // a pair a byte, written once (the element-by-element |= read and wrote each byte twice)
        for (int i = 0; i < pairs; i++) {
            packed[i] = (byte) ((levels[2 * i] & 0xF) | (levels[2 * i + 1] << 4));
        }
        if ((levels.length & 1) != 0) {
            packed[pairs] = (byte) (levels[levels.length - 1] & 0xF);
        }
        return packed;
    }
}
