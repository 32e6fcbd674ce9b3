package io.condense.it;

import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.OperatorSetIdProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnx.proto.OnnxMl.TensorShapeProto;
import ai.onnx.proto.OnnxMl.TypeProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;

/** Hand-built models of a hundred bytes or so, for what a hostile or careless client may send. */
final class TinyModels {
    private TinyModels() {
    }

    /**
     * y = MatMul(x, w): float x of the declared shape (its last dimension 16), w a [16, 2] initializer: a couple of
     * hundred bytes that declare an input of any size and hold a weight a technique can change.
     */
    static byte[] matMul(long... shape) {
        TensorShapeProto.Builder inputDims = TensorShapeProto.newBuilder();
        TensorShapeProto.Builder outputDims = TensorShapeProto.newBuilder();
        for (int i = 0; i < shape.length; i++) {
            inputDims.addDim(TensorShapeProto.Dimension.newBuilder().setDimValue(shape[i]));
            outputDims.addDim(TensorShapeProto.Dimension.newBuilder().setDimValue(i == shape.length - 1 ? 2 : shape[i]));
        }
        TensorProto.Builder weight = TensorProto.newBuilder().setName("w").setDataType(TensorProto.DataType.FLOAT_VALUE).addDims(16).addDims(2);
        for (int i = 0; i < 32; i++) {
            weight.addFloatData((i % 7) - 3);
        }
        GraphProto graph = GraphProto.newBuilder()
                .setName("g")
                .addNode(NodeProto.newBuilder().setOpType("MatMul").addInput("x").addInput("w").addOutput("y"))
                .addInitializer(weight)
                .addInput(ValueInfoProto.newBuilder().setName("x").setType(floatTensor(inputDims)))
                .addOutput(ValueInfoProto.newBuilder().setName("y").setType(floatTensor(outputDims)))
                .build();
        return ModelProto.newBuilder().setIrVersion(8)
                .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(13))
                .setGraph(graph).build().toByteArray();
    }

    private static TypeProto floatTensor(TensorShapeProto.Builder dims) {
        return TypeProto.newBuilder().setTensorType(TypeProto.Tensor.newBuilder()
                .setElemType(TensorProto.DataType.FLOAT_VALUE).setShape(dims)).build();
    }
}
