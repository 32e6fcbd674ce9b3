package io.condense.plugin.lowrank;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import io.condense.sdk.model.NodeAttributes;
import java.util.Arrays;

/**
 * A Conv node's kernel, strides, explicit pads ({@code [begin..., end...]}), dilations and group, read from its
 * attributes and weight shape. {@code auto_pad=SAME_UPPER/SAME_LOWER} becomes explicit pads only when every stride
 * is 1 (then the total pad is {@code dilation * (kernel - 1)} whatever the input size); otherwise {@link #read}
 * returns null and {@link #problem} says why.
 */
record ConvolutionGeometry(long[] kernel, long[] strides, long[] pads, long[] dilations, long group) {

    static ConvolutionGeometry read(NodeProto node, long[] weightShape) {
        return problem(node, weightShape) == null ? parse(node, weightShape) : null;
    }

    /** Why the geometry cannot be made explicit, or null. */
    static String problem(NodeProto node, long[] weightShape) {
        String autoPad = NodeAttributes.getString(node, "auto_pad", "NOTSET");
        if (autoPad.equals("SAME_UPPER") || autoPad.equals("SAME_LOWER")) {
            long[] strides = ints(node, "strides", weightShape.length - 2, 1);
            for (long stride : strides) {
                if (stride != 1) {
                    return "auto_pad=" + autoPad + " with strides " + Arrays.toString(strides)
                            + ": its pads depend on the input size, which a split convolution cannot reproduce";
                }
            }
        } else if (!autoPad.equals("NOTSET") && !autoPad.equals("VALID")) {
            return "unknown auto_pad=" + autoPad;
        }
        return null;
    }

    private static ConvolutionGeometry parse(NodeProto node, long[] weightShape) {
        int spatial = weightShape.length - 2;
        long[] kernel = Arrays.copyOfRange(weightShape, 2, weightShape.length);
        long[] strides = ints(node, "strides", spatial, 1);
        long[] dilations = ints(node, "dilations", spatial, 1);
        long group = NodeAttributes.getInt(node, "group", 1);
        String autoPad = NodeAttributes.getString(node, "auto_pad", "NOTSET");
        long[] pads = new long[2 * spatial];
        if (autoPad.equals("SAME_UPPER") || autoPad.equals("SAME_LOWER")) {
            for (int i = 0; i < spatial; i++) {
                long total = dilations[i] * (kernel[i] - 1);
                long smaller = total / 2;
                pads[i] = autoPad.equals("SAME_UPPER") ? smaller : total - smaller;
                pads[i + spatial] = total - pads[i];
            }
        } else if (autoPad.equals("NOTSET")) {
            long[] given = ints(node, "pads", 2 * spatial, 0);
            System.arraycopy(given, 0, pads, 0, pads.length);
        }
        return new ConvolutionGeometry(kernel, strides, pads, dilations, group);
    }

    private static long[] ints(NodeProto node, String name, int count, long fallback) {
        long[] values = new long[count];
        Arrays.fill(values, fallback);
        for (AttributeProto attribute : node.getAttributeList()) {
            if (attribute.getName().equals(name) && attribute.getIntsCount() == count) {
                for (int i = 0; i < count; i++) {
                    values[i] = attribute.getInts(i);
                }
            }
        }
        return values;
    }
}
