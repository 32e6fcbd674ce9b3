package io.condense.sdk.testkit;

import ai.onnx.proto.OnnxMl.AttributeProto;

/** The node attributes the test kit's hand-built models use. */
final class Attributes {
    private Attributes() {
    }

    static AttributeProto scalar(String name, long value) {
        return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.INT).setI(value).build();
    }

    static AttributeProto ints(String name, long... values) {
        AttributeProto.Builder attribute = AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.INTS);
        for (long value : values) {
            attribute.addInts(value);
        }
        return attribute.build();
    }
}
