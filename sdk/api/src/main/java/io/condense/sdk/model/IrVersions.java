package io.condense.sdk.model;

import static java.util.Objects.requireNonNull;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.FunctionProto;
import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.SparseTensorProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnx.proto.OnnxMl.TypeProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;

/**
 * The IR version a model declares, against the newest a runtime reads. The onnx package writes the newest IR version it
 * knows into every model it makes ({@code helper.make_model}: 14 from onnx 1.23), whatever the model uses, and ONNX
 * Runtime refuses a file whose IR version is newer than its own ("Unsupported model IR version: 14, max supported IR
 * version: 13") even when nothing in it is newer. An IR version adds structures and element types and removes none, so a
 * model that uses none of the newer ones is the same model at the older version: {@link #lowered} declares that one.
 */
public final class IrVersions {
    private IrVersions() {
    }

    /**
     * The model with {@code ir_version} lowered to {@code newest} when it declares a newer one and every element type it
     * names (initializers, constants, inputs, outputs, value infos, cast targets, in every subgraph and function) existed
     * at {@code newest}; otherwise the model as it is (a runtime then says what it cannot read).
     */
    public static OnnxModel lowered(OnnxModel model, long newest) {
        requireNonNull(model, "model is null");
        ModelProto proto = model.proto();
        if (proto.getIrVersion() <= newest || newestTypeIrVersion(proto) > newest) {
            return model;
        }
        return OnnxModel.of(proto.toBuilder().setIrVersion(newest).build());
    }

    /** The IR version that introduced an element type (TensorProto.DataType), as the ONNX IR specification lists them. */
    static long irVersionOf(int elementType) {
        if (elementType <= 0) {
            return 0;
        }
        if (elementType <= TensorProto.DataType.COMPLEX128_VALUE) {
            return 3; // FLOAT to COMPLEX128: the first published types
        }
        if (elementType == TensorProto.DataType.BFLOAT16_VALUE) {
            return 4;
        }
        if (elementType <= 20) {
            return 9; // FLOAT8E4M3FN, FLOAT8E4M3FNUZ, FLOAT8E5M2, FLOAT8E5M2FNUZ
        }
        if (elementType <= 22) {
            return 10; // UINT4, INT4
        }
        if (elementType == 23) {
            return 11; // FLOAT4E2M1
        }
        if (elementType == 24) {
            return 12; // FLOAT8E8M0
        }
        if (elementType <= 26) {
            return 13; // UINT2, INT2
        }
        return Long.MAX_VALUE; // newer than this table: never lowered below what declared it
    }

    private static long newestTypeIrVersion(ModelProto proto) {
        long newest = graph(proto.getGraph());
        for (FunctionProto function : proto.getFunctionsList()) {
            for (NodeProto node : function.getNodeList()) {
                newest = Math.max(newest, node(node));
            }
            for (ValueInfoProto value : function.getValueInfoList()) {
                newest = Math.max(newest, type(value.getType()));
            }
        }
        return newest;
    }

    private static long graph(GraphProto graph) {
        long newest = 0;
        for (TensorProto tensor : graph.getInitializerList()) {
            newest = Math.max(newest, irVersionOf(tensor.getDataType()));
        }
        for (SparseTensorProto sparse : graph.getSparseInitializerList()) {
            newest = Math.max(newest, irVersionOf(sparse.getValues().getDataType()));
        }
        for (ValueInfoProto value : graph.getInputList()) {
            newest = Math.max(newest, type(value.getType()));
        }
        for (ValueInfoProto value : graph.getOutputList()) {
            newest = Math.max(newest, type(value.getType()));
        }
        for (ValueInfoProto value : graph.getValueInfoList()) {
            newest = Math.max(newest, type(value.getType()));
        }
        for (NodeProto node : graph.getNodeList()) {
            newest = Math.max(newest, node(node));
        }
        return newest;
    }

    private static long node(NodeProto node) {
        long newest = 0;
        for (AttributeProto attribute : node.getAttributeList()) {
            if (attribute.hasT()) {
                newest = Math.max(newest, irVersionOf(attribute.getT().getDataType()));
            }
            if (attribute.hasSparseTensor()) {
                newest = Math.max(newest, irVersionOf(attribute.getSparseTensor().getValues().getDataType()));
            }
            for (TensorProto tensor : attribute.getTensorsList()) {
                newest = Math.max(newest, irVersionOf(tensor.getDataType()));
            }
            if (attribute.hasTp()) {
                newest = Math.max(newest, type(attribute.getTp()));
            }
            // element types given as integers: Cast's and CastLike's "to", the "dtype" of the random and EyeLike operators,
            // QuantizeLinear's "output_dtype"
            if (attribute.getType() == AttributeProto.AttributeType.INT
                    && (attribute.getName().equals("to") || attribute.getName().equals("dtype") || attribute.getName().equals("output_dtype"))) {
                newest = Math.max(newest, irVersionOf((int) attribute.getI()));
            }
            if (attribute.hasG()) {
                newest = Math.max(newest, graph(attribute.getG()));
            }
            for (GraphProto graph : attribute.getGraphsList()) {
                newest = Math.max(newest, graph(graph));
            }
        }
        return newest;
    }

    private static long type(TypeProto type) {
        return switch (type.getValueCase()) {
            case TENSOR_TYPE -> irVersionOf(type.getTensorType().getElemType());
            case SPARSE_TENSOR_TYPE -> irVersionOf(type.getSparseTensorType().getElemType());
            case SEQUENCE_TYPE -> type(type.getSequenceType().getElemType());
            case OPTIONAL_TYPE -> type(type.getOptionalType().getElemType());
            case MAP_TYPE -> Math.max(irVersionOf(type.getMapType().getKeyType()), type(type.getMapType().getValueType()));
            default -> 0;
        };
    }
}
