package io.condense.server.runtime;

import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.OperatorSetIdProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnx.proto.OnnxMl.TensorShapeProto;
import ai.onnx.proto.OnnxMl.TypeProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.tensor.DataType;
import java.util.List;

/** Tiny hand-built models for tests. */
final class TestModels {
    private TestModels() {
    }

    /** y = Identity(x), x of the given type and shape (-1 = dynamic). */
    static OnnxModel identity(DataType type, long... shape) {
        GraphProto graph = GraphProto.newBuilder()
                .setName("identity")
                .addNode(NodeProto.newBuilder().setOpType("Identity").addInput("x").addOutput("y"))
                .addInput(value("x", type, shape))
                .addOutput(value("y", type, shape))
                .build();
        return OnnxModel.of(model(graph));
    }

    /** z = Add(a, b), both float [1, 4]. */
    static OnnxModel twoInputs() {
        GraphProto graph = GraphProto.newBuilder()
                .setName("add")
                .addNode(NodeProto.newBuilder().setOpType("Add").addInput("a").addInput("b").addOutput("z"))
                .addInput(value("a", DataType.FLOAT, 1, 4))
                .addInput(value("b", DataType.FLOAT, 1, 4))
                .addOutput(value("z", DataType.FLOAT, 1, 4))
                .build();
        return OnnxModel.of(model(graph));
    }

    /** A well-formed graph whose only node is an operator no runtime knows. */
    static OnnxModel unknownOperator() {
        GraphProto graph = GraphProto.newBuilder()
                .setName("unknown")
                .addNode(NodeProto.newBuilder().setOpType("NoSuchOperator").addInput("x").addOutput("y"))
                .addInput(value("x", DataType.FLOAT, 1, 4))
                .addOutput(value("y", DataType.FLOAT, 1, 4))
                .build();
        return OnnxModel.of(model(graph));
    }

    static ModelProto model(GraphProto graph) {
        return ModelProto.newBuilder()
                .setIrVersion(8)
                .setProducerName("condense-runtime-tests")
                .addAllOpsetImport(List.of(OperatorSetIdProto.newBuilder().setDomain("").setVersion(13).build()))
                .setGraph(graph)
                .build();
    }

    static ValueInfoProto value(String name, DataType type, long... shape) {
        TensorShapeProto.Builder dims = TensorShapeProto.newBuilder();
        for (int i = 0; i < shape.length; i++) {
            if (shape[i] < 0) {
                dims.addDim(TensorShapeProto.Dimension.newBuilder().setDimParam("d" + i));
            } else {
                dims.addDim(TensorShapeProto.Dimension.newBuilder().setDimValue(shape[i]));
            }
        }
        return ValueInfoProto.newBuilder()
                .setName(name)
                .setType(TypeProto.newBuilder().setTensorType(
                        TypeProto.Tensor.newBuilder().setElemType(type.onnxCode()).setShape(dims)))
                .build();
    }

    /** Float values of a TensorProto written by the ONNX test tools (raw_data little-endian, or float_data). */
    static float[] floats(TensorProto tensor) {
        if (tensor.getDataType() != TensorProto.DataType.FLOAT_VALUE) {
            throw new IllegalArgumentException("not a float tensor: " + tensor.getDataType());
        }
        if (!tensor.getRawData().isEmpty()) {
            java.nio.FloatBuffer buffer = tensor.getRawData().asReadOnlyByteBuffer()
                    .order(java.nio.ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
            float[] values = new float[buffer.remaining()];
            buffer.get(values);
            return values;
        }
        float[] values = new float[tensor.getFloatDataCount()];
        for (int i = 0; i < values.length; i++) {
            values[i] = tensor.getFloatData(i);
        }
        return values;
    }

    static long[] dims(TensorProto tensor) {
        long[] dims = new long[tensor.getDimsCount()];
        for (int i = 0; i < dims.length; i++) {
            dims[i] = tensor.getDims(i);
        }
        return dims;
    }
}
