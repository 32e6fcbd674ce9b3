package io.condense.sdk.model;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import java.util.Arrays;
import java.util.function.Function;

/** Output shapes of the layout-only ops {@link ModelEditor#foldConstantReshapes()} folds into initializers. */
final class FoldedShapes {
    private FoldedShapes() {
    }

    /** The output shape, or null when the node is not a foldable layout op or its shape inputs are not constant. */
    static long[] outputShape(NodeProto node, long[] input, Function<String, long[]> constant) {
        long elements = 1;
        for (long dim : input) {
            elements *= dim;
        }
        switch (node.getOpType()) {
            case "Identity" -> {
                return input;
            }
            case "Reshape" -> {
                long[] target = node.getInputCount() > 1 ? constant.apply(node.getInput(1)) : ints(node, "shape");
                if (target == null || NodeAttributes.getInt(node, "allowzero", 0) != 0) {
                    return null;
                }
                long[] result = target.clone();
                int unknown = -1;
                long known = 1;
                for (int i = 0; i < result.length; i++) {
                    if (result[i] == 0) {
                        if (i >= input.length) {
                            return null;
                        }
                        result[i] = input[i];
                    }
                    if (result[i] == -1) {
                        if (unknown >= 0) {
                            return null;
                        }
                        unknown = i;
                    } else {
                        known *= result[i];
                    }
                }
                if (unknown >= 0) {
                    if (known == 0 || elements % known != 0) {
                        return null;
                    }
                    result[unknown] = elements / known;
                }
                long count = 1;
                for (long dim : result) {
                    count *= dim;
                }
                return count == elements ? result : null;
            }
            case "Flatten" -> {
                long axis = NodeAttributes.getInt(node, "axis", 1);
                int split = (int) (axis < 0 ? axis + input.length : axis);
                if (split < 0 || split > input.length) {
                    return null;
                }
                long outer = 1;
                for (int i = 0; i < split; i++) {
                    outer *= input[i];
                }
                return new long[] {outer, outer == 0 ? 0 : elements / outer};
            }
            case "Squeeze", "Unsqueeze" -> {
                long[] axes = node.getInputCount() > 1 ? constant.apply(node.getInput(1)) : ints(node, "axes");
                if (axes == null) {
                    if (node.getInputCount() > 1 || node.getOpType().equals("Unsqueeze")) {
                        return null;
                    }
                    return Arrays.stream(input).filter(d -> d != 1).toArray();
                }
                if (node.getOpType().equals("Squeeze")) {
                    boolean[] drop = new boolean[input.length];
                    for (long axis : axes) {
                        int a = (int) (axis < 0 ? axis + input.length : axis);
                        if (a < 0 || a >= input.length || input[a] != 1) {
                            return null;
                        }
                        drop[a] = true;
                    }
                    long[] result = new long[input.length];
                    int kept = 0;
                    for (int i = 0; i < input.length; i++) {
                        if (!drop[i]) {
                            result[kept++] = input[i];
                        }
                    }
                    return Arrays.copyOf(result, kept);
                }
                int rank = input.length + axes.length;
                boolean[] inserted = new boolean[rank];
                for (long axis : axes) {
                    int a = (int) (axis < 0 ? axis + rank : axis);
                    if (a < 0 || a >= rank || inserted[a]) {
                        return null;
                    }
                    inserted[a] = true;
                }
                long[] result = new long[rank];
                int next = 0;
                for (int i = 0; i < rank; i++) {
                    result[i] = inserted[i] ? 1 : input[next++];
                }
                return result;
            }
            default -> {
                return null;
            }
        }
    }

    private static long[] ints(NodeProto node, String name) {
        for (AttributeProto attribute : node.getAttributeList()) {
            if (attribute.getName().equals(name)) {
                long[] values = new long[attribute.getIntsCount()];
                for (int i = 0; i < values.length; i++) {
                    values[i] = attribute.getInts(i);
                }
                return values;
            }
        }
        return null;
    }
}
