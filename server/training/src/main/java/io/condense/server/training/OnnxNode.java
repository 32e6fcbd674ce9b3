package io.condense.server.training;

import static java.util.Objects.requireNonNull;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;

/** A graph node with typed attribute access and a name for messages. */
final class OnnxNode {
    private final NodeProto proto;
    private final int index;
    private final Map<String, AttributeProto> attributes = new HashMap<>();

    OnnxNode(NodeProto proto, int index) {
        this.proto = requireNonNull(proto, "proto is null");
        this.index = index;
        for (AttributeProto attribute : proto.getAttributeList()) {
            attributes.put(attribute.getName(), attribute);
        }
    }

    NodeProto proto() {
        return proto;
    }

    String opType() {
        return proto.getOpType();
    }

    /** {@code Conv} for the default domain, else {@code domain:op}. */
    String qualifiedOpType() {
        String domain = proto.getDomain();
        return domain.isEmpty() || domain.equals("ai.onnx") ? proto.getOpType() : domain + ":" + proto.getOpType();
    }

    /** For messages: {@code node 3 (Conv "conv1")}. */
    String describe() {
        return "node " + index + " (" + proto.getOpType() + (proto.getName().isEmpty() ? "" : " \"" + proto.getName() + "\"") + ")";
    }

    boolean has(String name) {
        return attributes.containsKey(name);
    }

    long getInt(String name, long defaultValue) {
        AttributeProto attribute = attributes.get(name);
        return attribute == null ? defaultValue : attribute.getI();
    }

    float getFloat(String name, float defaultValue) {
        AttributeProto attribute = attributes.get(name);
        return attribute == null ? defaultValue : attribute.getF();
    }

    String getString(String name, String defaultValue) {
        AttributeProto attribute = attributes.get(name);
        return attribute == null ? defaultValue : attribute.getS().toStringUtf8();
    }

    /** The ints of an attribute, or empty when it is absent. */
    Optional<long[]> getInts(String name) {
        AttributeProto attribute = attributes.get(name);
        if (attribute == null) {
            return Optional.empty();
        }
        long[] values = new long[attribute.getIntsCount()];
        for (int i = 0; i < values.length; i++) {
            values[i] = attribute.getInts(i);
        }
        return Optional.of(values);
    }

    Optional<AttributeProto> attribute(String name) {
        return Optional.ofNullable(attributes.get(name));
    }

    CondenseException unsupported(String what) {
        return new CondenseException(ErrorCode.UNSUPPORTED_MODEL, describe() + ": " + what
                + " is not supported by the training runtime; export the model without it or ask for it to be added");
    }

    CondenseException invalid(String what) {
        return new CondenseException(ErrorCode.INVALID_MODEL, describe() + ": " + what);
    }
}
