package io.condense.sdk.model.channel;

import static java.util.Objects.requireNonNull;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import io.condense.sdk.model.ModelEditor;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.tensor.DataType;
import io.condense.sdk.tensor.Tensor;
import java.util.Arrays;
import java.util.Optional;

/**
 * A float32 constant read by one node, which channel pruning can slice along an axis: an initializer, the output of a
 * {@code ConstantOfShape} node with a constant shape (the onnx_light models make every weight that way: slicing
 * only changes the shape), or the value of a {@code Constant} node. Slices are applied to a working copy and
 * written back with {@link #write(ModelEditor)}.
 */
final class ConstantTensor {
    enum Kind { INITIALIZER, CONSTANT_OF_SHAPE, CONSTANT_NODE }

    private final String name;
    private final Kind kind;
    private final int nodeIndex;
    private final long[] originalShape;
    private long[] shape;
    /** The values, or null for a ConstantOfShape (every element is {@link #fill}). */
    private float[] values;
    private final float fill;
    private boolean changed;

    private ConstantTensor(String name, Kind kind, int nodeIndex, long[] shape, float[] values, float fill) {
        this.name = requireNonNull(name, "name is null");
        this.kind = kind;
        this.nodeIndex = nodeIndex;
        this.originalShape = shape.clone();
        this.shape = shape.clone();
        this.values = values;
        this.fill = fill;
    }

    /**
     * The constant behind a value, or why it cannot be sliced: it must be float32, constant, and read by exactly one
     * node (a weight shared by two layers would be cut for both).
     */
    static Result of(OnnxModel model, String value) {
        if (value.isEmpty()) {
            return Result.refused("an empty input");
        }
        int readers = model.consumers(value).size();
        boolean graphOutput = model.outputs().stream().anyMatch(output -> output.getName().equals(value));
        if (readers != 1 || graphOutput) {
            return Result.refused("constant '" + value + "' is shared by " + readers + " nodes" + (graphOutput ? " and the graph output" : ""));
        }
        if (model.isInitializer(value)) {
            Tensor tensor = model.tensor(value);
            if (tensor.dataType() != DataType.FLOAT) {
                return Result.refused("constant '" + value + "' is " + tensor.dataType() + ", not float32");
            }
            return Result.of(new ConstantTensor(value, Kind.INITIALIZER, -1, tensor.shape(), tensor.toFloatArray(), 0f));
        }
        int producer = model.producerIndex(value);
        if (producer < 0) {
            return Result.refused("'" + value + "' is not a constant (a graph input)");
        }
        NodeProto node = model.nodes().get(producer);
        if (!node.getDomain().isEmpty() && !node.getDomain().equals("ai.onnx")) {
            return Result.refused("'" + value + "' is computed by " + node.getOpType() + " (domain " + node.getDomain() + ")");
        }
        if (node.getOpType().equals("Constant")) {
            for (AttributeProto attribute : node.getAttributeList()) {
                if (attribute.getName().equals("value") && attribute.hasT()) {
                    Tensor tensor = Tensor.fromProto(attribute.getT());
                    if (tensor.dataType() != DataType.FLOAT) {
                        return Result.refused("constant '" + value + "' is " + tensor.dataType() + ", not float32");
                    }
                    return Result.of(new ConstantTensor(value, Kind.CONSTANT_NODE, producer, tensor.shape(), tensor.toFloatArray(), 0f));
                }
            }
            return Result.refused("Constant node of '" + value + "' has no tensor 'value'");
        }
        if (node.getOpType().equals("ConstantOfShape")) {
            Optional<long[]> target = longConstant(model, node.getInput(0));
            if (target.isEmpty()) {
                return Result.refused("the shape of ConstantOfShape '" + value + "' is computed at run time");
            }
            float fill = 0f;
            for (AttributeProto attribute : node.getAttributeList()) {
                if (attribute.getName().equals("value") && attribute.hasT()) {
                    Tensor tensor = Tensor.fromProto(attribute.getT());
                    if (tensor.dataType() != DataType.FLOAT) {
                        return Result.refused("ConstantOfShape '" + value + "' fills " + tensor.dataType() + ", not float32");
                    }
                    fill = tensor.getFloat(0);
                }
            }
            return Result.of(new ConstantTensor(value, Kind.CONSTANT_OF_SHAPE, producer, target.get(), null, fill));
        }
        return Result.refused("'" + value + "' is computed by a " + node.getOpType() + " node, not a constant");
    }

    /** The int64 values of a constant (initializer or Constant node), when it is one. */
    static Optional<long[]> longConstant(OnnxModel model, String value) {
        if (model.isInitializer(value)) {
            Tensor tensor = model.tensor(value);
            return tensor.dataType() == DataType.INT64 ? Optional.of(tensor.toLongArray()) : Optional.empty();
        }
        int producer = model.producerIndex(value);
        if (producer < 0) {
            return Optional.empty();
        }
        NodeProto node = model.nodes().get(producer);
        if (node.getOpType().equals("Constant") && (node.getDomain().isEmpty() || node.getDomain().equals("ai.onnx"))) {
            for (AttributeProto attribute : node.getAttributeList()) {
                if (attribute.getName().equals("value") && attribute.hasT()) {
                    Tensor tensor = Tensor.fromProto(attribute.getT());
                    return tensor.dataType() == DataType.INT64 ? Optional.of(tensor.toLongArray()) : Optional.empty();
                }
            }
        }
        return Optional.empty();
    }

    String name() {
        return name;
    }

    long[] shape() {
        return shape.clone();
    }

    long[] originalShape() {
        return originalShape.clone();
    }

    long elementCount() {
        return product(shape, 0, shape.length);
    }

    boolean changed() {
        return changed;
    }

    /** Whether every element has the same value (a ConstantOfShape): then {@link #fill()} is that value. */
    boolean uniform() {
        return values == null;
    }

    float fill() {
        return fill;
    }

    /** The current values, materialized for a ConstantOfShape. */
    float[] values() {
        if (values != null) {
            return values;
        }
        float[] filled = new float[Math.toIntExact(elementCount())];
        Arrays.fill(filled, fill);
        return filled;
    }

    /** Keeps only the given indices (ascending, each below shape[axis]) along an axis. */
    void keep(int axis, int[] kept) {
        if (axis < 0 || axis >= shape.length) {
            throw new IllegalArgumentException("axis " + axis + " outside " + Arrays.toString(shape) + " of '" + name + "'");
        }
        int length = Math.toIntExact(shape[axis]);
        if (kept.length == length) {
            return;
        }
        for (int index : kept) {
            if (index < 0 || index >= length) {
                throw new IllegalArgumentException("index " + index + " outside axis " + axis + " (" + length + ") of '" + name + "'");
            }
        }
        if (values != null) {
            int outer = Math.toIntExact(product(shape, 0, axis));
            int inner = Math.toIntExact(product(shape, axis + 1, shape.length));
            float[] sliced = new float[outer * kept.length * inner];
            int target = 0;
            for (int o = 0; o < outer; o++) {
                int base = o * length * inner;
                for (int index : kept) {
                    System.arraycopy(values, base + index * inner, sliced, target, inner);
                    target += inner;
                }
            }
            values = sliced;
        }
        shape[axis] = kept.length;
        changed = true;
    }

    /** Writes the sliced constant into the edit (initializer, ConstantOfShape shape, or Constant value). */
    void write(ModelEditor editor) {
        if (!changed) {
            return;
        }
        switch (kind) {
            case INITIALIZER -> editor.putInitializer(Tensor.fromFloats(name, DataType.FLOAT, shape, values).toProto());
            case CONSTANT_NODE -> {
                NodeProto node = editor.node(nodeIndex);
                NodeProto.Builder builder = node.toBuilder().clearAttribute();
                for (AttributeProto attribute : node.getAttributeList()) {
                    if (attribute.getName().equals("value")) {
                        TensorProto tensor = Tensor.fromFloats(attribute.getT().getName(), DataType.FLOAT, shape, values).toProto();
                        builder.addAttribute(attribute.toBuilder().setT(tensor));
                    } else {
                        builder.addAttribute(attribute);
                    }
                }
                editor.replaceNode(nodeIndex, builder.build());
            }
            case CONSTANT_OF_SHAPE -> {
                String shapeName = editor.uniqueName(name + "_pruned_shape");
                editor.putInitializer(Tensor.fromLongs(shapeName, new long[] {shape.length}, shape).toProto());
                NodeProto node = editor.node(nodeIndex);
                editor.replaceNode(nodeIndex, node.toBuilder().setInput(0, shapeName).build());
            }
        }
    }

    static long product(long[] shape, int from, int to) {
        long product = 1;
        for (int i = from; i < to; i++) {
            product *= shape[i];
        }
        return product;
    }

    /** A constant, or the reason there is none. */
    record Result(ConstantTensor tensor, String refusal) {
        static Result of(ConstantTensor tensor) {
            return new Result(tensor, null);
        }

        static Result refused(String refusal) {
            return new Result(null, refusal);
        }

        boolean ok() {
            return tensor != null;
        }
    }
}
