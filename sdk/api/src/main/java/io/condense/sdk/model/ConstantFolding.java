package io.condense.sdk.model;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.SparseTensorProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import io.condense.sdk.tensor.DataType;
import io.condense.sdk.tensor.Tensor;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Turns the constants exporters write as nodes into initializers, so that every technique finds the weights where it looks
 * (see {@link ModelEditor#foldConstants()}): Constant nodes (value, sparse_value, value_float(s), value_int(s)), and
 * Identity, Cast, Reshape, Flatten, Squeeze, Unsqueeze and Transpose of a constant, chains included (nodes are visited in
 * graph order, so each folded output is already an initializer when the next link reads it), and ConstantOfShape of a
 * constant shape up to {@link #MAX_FILLED_ELEMENTS} elements. An Einsum that is a matrix
 * product of an activation and a 2-D constant ({@code "...ij,jk->...ik"}, or {@code "...ij,kj->...ik"} with the constant
 * transposed) becomes a MatMul. Subgraphs (If, Loop, Scan bodies) are left as they are.
 */
final class ConstantFolding {
    /** ConstantOfShape results larger than this (64 MiB of float) are left to the runtime. */
    static final long MAX_FILLED_ELEMENTS = 16L << 20;

    private static final Set<String> LAYOUT_OPS = Set.of("Identity", "Reshape", "Flatten", "Squeeze", "Unsqueeze");

    private ConstantFolding() {
    }

    /** Folds what it can in the editor's current nodes; returns how many nodes were folded or rewritten. */
    static int fold(ModelEditor editor) {
        Set<String> graphOutputs = new HashSet<>();
        for (ValueInfoProto output : editor.baseModel().graph().getOutputList()) {
            graphOutputs.add(output.getName());
        }
        List<NodeProto> slots = editor.slotsView();
        boolean subgraphs = slots.stream().anyMatch(node -> node != null && GraphNames.hasSubgraph(node));
        int folded = 0;
        for (int i = 0; i < slots.size(); i++) {
            NodeProto node = slots.get(i);
            if (node == null || !isDefaultDomain(node) || node.getOutputCount() != 1) {
                continue;
            }
            if (node.getOpType().equals("Einsum")) {
                // rewritten in place: its output keeps its producer, so it may be a graph output
                folded += einsumAsMatMul(editor, i, node) ? 1 : 0;
                continue;
            }
            if (graphOutputs.contains(node.getOutput(0))) {
                continue;
            }
            String output = node.getOutput(0);
            String op = node.getOpType();
            boolean done = false;
            if (op.equals("Constant")) {
                done = foldConstant(editor, node, output);
            } else if (op.equals("ConstantOfShape")) {
                done = constantOfShape(editor, node, output);
            } else if (node.getInputCount() > 0) {
                TensorProto data = editor.initializerProto(node.getInput(0));
                if (data != null && op.equals("Identity") && !subgraphs) {
                    // An exporter's second name for one weight (PyTorch writes tied and de-duplicated parameters as
                    // Identity of the first): its readers read the weight itself, so it stays one weight, shared, compressed
                    // and written once. (A copy under the second name doubled tied embeddings.) Not done when subgraphs
                    // might read the name from the outer scope: then the copy below, as before.
                    editor.replaceInput(output, node.getInput(0));
                    done = true;
                } else if (data != null && DataType.isSupported(data.getDataType())) {
                    Tensor tensor = Tensor.fromProto(data);
                    Tensor result = null;
                    if (LAYOUT_OPS.contains(op)) {
                        long[] shape = FoldedShapes.outputShape(node, tensor.shape(), name -> integers(editor, name));
                        result = shape == null ? null : tensor.reshape(shape);
                    } else if (op.equals("Cast")) {
                        result = cast(tensor, (int) NodeAttributes.getInt(node, "to", 0));
                    } else if (op.equals("Transpose")) {
                        result = transpose(tensor, ints(node, "perm"));
                    }
                    if (result != null) {
                        editor.putInitializer(result.withName(output).toProto());
                        done = true;
                    }
                }
            }
            if (done) {
                editor.removeNode(i);
                folded++;
            }
        }
        return folded;
    }

    private static boolean isDefaultDomain(NodeProto node) {
        return node.getDomain().isEmpty() || node.getDomain().equals("ai.onnx");
    }

    /** A Constant node's value as an initializer named after its output; false for string values or references. */
    private static boolean foldConstant(ModelEditor editor, NodeProto node, String output) {
        for (AttributeProto attribute : node.getAttributeList()) {
            switch (attribute.getName()) {
                case "value" -> {
                    TensorProto tensor = attribute.getT();
                    if (tensor.getDataLocation() == TensorProto.DataLocation.EXTERNAL) {
                        return false;
                    }
                    editor.putInitializer(tensor.toBuilder().setName(output).build());
                    return true;
                }
                case "sparse_value" -> {
                    // stored dense: techniques read dense weights, and ONNX's checker infers no shape for sparse initializers
                    SparseTensorProto sparse = attribute.getSparseTensor();
                    if (!DataType.isSupported(sparse.getValues().getDataType())) {
                        return false;
                    }
                    editor.putInitializer(Tensor.fromSparseProto(sparse).withName(output).toProto());
                    return true;
                }
                case "value_float" -> {
                    editor.putInitializer(TensorProto.newBuilder().setName(output).setDataType(TensorProto.DataType.FLOAT_VALUE)
                            .addFloatData(attribute.getF()).build());
                    return true;
                }
                case "value_floats" -> {
                    editor.putInitializer(TensorProto.newBuilder().setName(output).setDataType(TensorProto.DataType.FLOAT_VALUE)
                            .addDims(attribute.getFloatsCount()).addAllFloatData(attribute.getFloatsList()).build());
                    return true;
                }
                case "value_int" -> {
                    editor.putInitializer(TensorProto.newBuilder().setName(output).setDataType(TensorProto.DataType.INT64_VALUE)
                            .addInt64Data(attribute.getI()).build());
                    return true;
                }
                case "value_ints" -> {
                    editor.putInitializer(TensorProto.newBuilder().setName(output).setDataType(TensorProto.DataType.INT64_VALUE)
                            .addDims(attribute.getIntsCount()).addAllInt64Data(attribute.getIntsList()).build());
                    return true;
                }
                default -> {
                    // value_string(s) and attribute references stay Constant nodes
                }
            }
        }
        return false;
    }

    /**
     * ConstantOfShape of a constant shape (the ONNX light test models make every weight that way): the filled tensor, up
     * to {@value #MAX_FILLED_ELEMENTS} elements (larger ones stay computed at run time).
     */
    private static boolean constantOfShape(ModelEditor editor, NodeProto node, String output) {
        long[] shape = node.getInputCount() > 0 ? integers(editor, node.getInput(0)) : null;
        if (shape == null) {
            return false;
        }
        long elements = 1;
        for (long dim : shape) {
            if (dim < 0) {
                return false;
            }
            elements *= dim;
            if (elements > MAX_FILLED_ELEMENTS) {
                return false;
            }
        }
        TensorProto value = NodeAttributes.find(node, "value").map(AttributeProto::getT).orElse(null);
        DataType type = value == null ? DataType.FLOAT : DataType.isSupported(value.getDataType())
                ? DataType.fromOnnx(value.getDataType()) : null;
        if (type == null || type.bits() < 8) {
            return false;
        }
        Tensor fill = value == null ? null : Tensor.fromProto(value);
        Tensor result;
        if (type == DataType.INT64) {
            long[] values = new long[(int) elements];
            java.util.Arrays.fill(values, fill == null ? 0 : fill.toLongArray()[0]);
            result = Tensor.fromLongs(output, shape, values);
        } else {
            float[] values = new float[(int) elements];
            java.util.Arrays.fill(values, fill == null ? 0f : fill.getFloat(0));
            result = Tensor.fromFloats(output, type, shape, values);
        }
        editor.putInitializer(result.toProto());
        return true;
    }

    /** The values of an int32/int64 initializer of the edit, or null. */
    private static long[] integers(ModelEditor editor, String name) {
        TensorProto constant = editor.initializerProto(name);
        if (constant == null || (constant.getDataType() != TensorProto.DataType.INT64_VALUE
                && constant.getDataType() != TensorProto.DataType.INT32_VALUE)) {
            return null;
        }
        return Tensor.fromProto(constant).toLongArray();
    }

    /**
     * Cast to a float type from any type Condense reads; int64 from the integer types. Other casts (float to integer
     * truncates, bool, double, strings) are left to the runtime.
     */
    static Tensor cast(Tensor tensor, int to) {
        if (!DataType.isSupported(to)) {
            return null;
        }
        DataType target = DataType.fromOnnx(to);
        DataType source = tensor.dataType();
        if (target == source) {
            return tensor;
        }
        if (target.isFloatingPoint()) {
            if (source == DataType.INT64 || source == DataType.INT32) {
                long[] values = tensor.toLongArray();
                float[] floats = new float[values.length];
                for (int i = 0; i < values.length; i++) {
                    floats[i] = values[i];
                }
                return Tensor.fromFloats(tensor.name(), target, tensor.shape(), floats);
            }
            return Tensor.fromFloats(tensor.name(), target, tensor.shape(), tensor.toFloatArray());
        }
        if (target == DataType.INT64 && !source.isFloatingPoint()) {
            return Tensor.fromLongs(tensor.name(), tensor.shape(), tensor.toLongArray());
        }
        return null;
    }

    /** The tensor with its axes permuted ({@code perm} empty: reversed); null for 4-bit types or a bad permutation. */
    static Tensor transpose(Tensor tensor, long[] perm) {
        int rank = tensor.rank();
        long[] shape = tensor.shape();
        int[] order = new int[rank];
        boolean[] seen = new boolean[rank];
        for (int i = 0; i < rank; i++) {
            long axis = perm == null || perm.length == 0 ? rank - 1 - i : (i < perm.length ? perm[i] : -1);
            if (axis < 0 || axis >= rank || seen[(int) axis] || (perm != null && perm.length != 0 && perm.length != rank)) {
                return null;
            }
            seen[(int) axis] = true;
            order[i] = (int) axis;
        }
        if (tensor.dataType().bits() < 8 || tensor.elementCount() > Integer.MAX_VALUE / 8) {
            return null;
        }
        int width = tensor.dataType().bits() / 8;
        int count = (int) tensor.elementCount();
        byte[] source = tensor.rawByteString().toByteArray();
        byte[] target = new byte[source.length];
        long[] outShape = new long[rank];
        long[] sourceStrides = new long[rank];
        long stride = 1;
        for (int axis = rank - 1; axis >= 0; axis--) {
            sourceStrides[axis] = stride;
            stride *= shape[axis];
        }
        long[] strides = new long[rank];
        for (int i = 0; i < rank; i++) {
            outShape[i] = shape[order[i]];
            strides[i] = sourceStrides[order[i]];
        }
        int[] index = new int[rank];
        long from = 0;
        for (int to = 0; to < count; to++) {
            System.arraycopy(source, (int) (from * width), target, to * width, width);
            for (int axis = rank - 1; axis >= 0; axis--) {
                index[axis]++;
                from += strides[axis];
                if (index[axis] < outShape[axis]) {
                    break;
                }
                from -= strides[axis] * outShape[axis];
                index[axis] = 0;
            }
        }
        return Tensor.fromRaw(tensor.name(), tensor.dataType(), outShape, target);
    }

    /**
     * Rewrites {@code Einsum(x, W)} with a 2-D float initializer W as MatMul when the equation is a matrix product over
     * x's last axis: {@code "<a>j,jk-><a>k"} reads W as it is, {@code "<a>j,kj-><a>k"} reads a transposed copy.
     */
    private static boolean einsumAsMatMul(ModelEditor editor, int index, NodeProto node) {
        if (node.getInputCount() != 2) {
            return false;
        }
        TensorProto weight = editor.initializerProto(node.getInput(1));
        if (weight == null || weight.getDimsCount() != 2 || !DataType.isSupported(weight.getDataType())) {
            return false;
        }
        String equation = NodeAttributes.getString(node, "equation", "").replace(" ", "");
        int arrow = equation.indexOf("->");
        int comma = equation.indexOf(',');
        if (arrow < 0 || comma < 0 || comma > arrow) {
            return false;
        }
        String left = equation.substring(0, comma);
        String right = equation.substring(comma + 1, arrow);
        String result = equation.substring(arrow + 2);
        if (left.length() < 2 || right.length() != 2 || right.contains(".")) {
            return false;
        }
        char contracted = left.charAt(left.length() - 1);
        String batch = left.substring(0, left.length() - 1);
        boolean asIs;
        char kept;
        if (right.charAt(0) == contracted) {
            asIs = true;
            kept = right.charAt(1);
        } else if (right.charAt(1) == contracted) {
            asIs = false;
            kept = right.charAt(0);
        } else {
            return false;
        }
        if (kept == contracted || batch.indexOf(kept) >= 0 || batch.indexOf(contracted) >= 0 || !result.equals(batch + kept)
                || hasRepeats(batch.replace("...", ""))) {
            return false;
        }
        String weightName = node.getInput(1);
        if (!asIs) {
            Tensor transposed = transpose(Tensor.fromProto(weight), new long[] {1, 0});
            if (transposed == null) {
                return false;
            }
            weightName = editor.uniqueName(weightName + "_transposed");
            editor.putInitializer(transposed.withName(weightName).toProto());
        }
        NodeProto matMul = NodeProto.newBuilder().setOpType("MatMul").setName(node.getName()).addInput(node.getInput(0))
                .addInput(weightName).addOutput(node.getOutput(0)).setDocString("Einsum '" + equation + "' as MatMul").build();
        editor.replaceNode(index, matMul);
        return true;
    }

    private static boolean hasRepeats(String letters) {
        Set<Character> seen = new HashSet<>();
        for (char c : letters.toCharArray()) {
            if (!seen.add(c)) {
                return true;
            }
        }
        return false;
    }

    private static long[] ints(NodeProto node, String name) {
        return NodeAttributes.find(node, name).map(attribute -> {
            long[] values = new long[attribute.getIntsCount()];
            for (int i = 0; i < values.length; i++) {
                values[i] = attribute.getInts(i);
            }
            return values;
        }).orElse(null);
    }
}
