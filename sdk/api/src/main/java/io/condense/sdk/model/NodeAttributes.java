package io.condense.sdk.model;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import java.util.Optional;

/**
 * Reads a node's attributes by name, with the default ONNX gives when the attribute is absent. One place for
 * what every graph rewrite needs (Conv's group and pads, Gemm's transB, BatchNormalization's epsilon ...).
 */
public final class NodeAttributes {
    private NodeAttributes() {
    }

    /** The attribute of that name, if the node has it. */
    public static Optional<AttributeProto> find(NodeProto node, String name) {
        for (AttributeProto attribute : node.getAttributeList()) {
            if (attribute.getName().equals(name)) {
                return Optional.of(attribute);
            }
        }
        return Optional.empty();
    }

    /** An integer attribute, or {@code fallback} when absent. */
    public static long getInt(NodeProto node, String name, long fallback) {
        return find(node, name).map(AttributeProto::getI).orElse(fallback);
    }

    /** A float attribute, or {@code fallback} when absent. */
    public static float getFloat(NodeProto node, String name, float fallback) {
        return find(node, name).map(AttributeProto::getF).orElse(fallback);
    }

    /** A string attribute (UTF-8), or {@code fallback} when absent. */
    public static String getString(NodeProto node, String name, String fallback) {
        return find(node, name).map(attribute -> attribute.getS().toStringUtf8()).orElse(fallback);
    }
}
