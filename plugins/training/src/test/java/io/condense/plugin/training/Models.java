package io.condense.plugin.training;

import ai.onnx.proto.OnnxMl.AttributeProto;
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
import io.condense.sdk.tensor.Tensor;
import java.util.Random;

/** Small ONNX graphs for the tests, built with protobuf builders: float input [batch, 1, 28, 28], logits [batch, 10]. */
final class Models {
    private final GraphProto.Builder graph = GraphProto.newBuilder().setName("graph");
    private final Random random;

    private Models(long seed) {
        this.random = new Random(seed);
        graph.addInput(valueInfo("image", 1, 28, 28));
        graph.addOutput(valueInfo("logits", 10));
    }

    /** LeNet-300-100 (Flatten, Gemm 784-300, Relu, Gemm 300-100, Relu, Gemm 100-10) with PyTorch's default initialisation. */
    static OnnxModel leNet300100(long seed) {
        Models m = new Models(seed);
        m.node("Flatten", new String[] {"image"}, "flat", AttributeProto.newBuilder().setName("axis")
                .setType(AttributeProto.AttributeType.INT).setI(1).build());
        m.dense("flat", 784, 300, "fc1", "h1");
        m.node("Relu", new String[] {"h1"}, "r1");
        m.dense("r1", 300, 100, "fc2", "h2");
        m.node("Relu", new String[] {"h2"}, "r2");
        m.dense("r2", 100, 10, "fc3", "logits");
        return m.build();
    }

    /** Flatten, then a graph whose weight is int8 read through DequantizeLinear (as quantize or binarize write it). */
    static OnnxModel quantizedLinear() {
        Models m = new Models(1);
        m.node("Flatten", new String[] {"image"}, "flat", AttributeProto.newBuilder().setName("axis")
                .setType(AttributeProto.AttributeType.INT).setI(1).build());
        m.graph.addInitializer(Tensor.fromRaw("fc.weight_q", DataType.INT8, new long[] {10, 784}, new byte[7840]).toProto());
        m.graph.addInitializer(Tensor.fromFloats("fc.scale", DataType.FLOAT, new long[0], new float[] {0.01f}).toProto());
        m.graph.addInitializer(Tensor.fromRaw("fc.zero", DataType.INT8, new long[0], new byte[1]).toProto());
        m.node("DequantizeLinear", new String[] {"fc.weight_q", "fc.scale", "fc.zero"}, "fc.weight");
        m.graph.addInitializer(m.uniform("fc.bias", 0.1, 10));
        m.node("Gemm", new String[] {"flat", "fc.weight", "fc.bias"}, "logits", AttributeProto.newBuilder().setName("transB")
                .setType(AttributeProto.AttributeType.INT).setI(1).build());
        return m.build();
    }

    /** A weight shared by k-means: int64 indices into a float codebook through Gather, then Gemm. */
    static OnnxModel codebookLinear() {
        Models m = new Models(1);
        m.node("Flatten", new String[] {"image"}, "flat", AttributeProto.newBuilder().setName("axis")
                .setType(AttributeProto.AttributeType.INT).setI(1).build());
        m.graph.addInitializer(m.uniform("fc.codebook", 0.05, 16));
        m.graph.addInitializer(Tensor.fromLongs("fc.indices", new long[] {10, 784}, new long[7840]).toProto());
        m.node("Gather", new String[] {"fc.codebook", "fc.indices"}, "fc.weight");
        m.graph.addInitializer(m.uniform("fc.bias", 0.1, 10));
        m.node("Gemm", new String[] {"flat", "fc.weight", "fc.bias"}, "logits", AttributeProto.newBuilder().setName("transB")
                .setType(AttributeProto.AttributeType.INT).setI(1).build());
        return m.build();
    }

    /** The quantized linear graph with its Gemm replaced by MatMulInteger (an integer kernel, not QDQ). */
    static OnnxModel withIntegerMatMul() {
        Models m = new Models(1);
        m.node("Flatten", new String[] {"image"}, "flat", AttributeProto.newBuilder().setName("axis")
                .setType(AttributeProto.AttributeType.INT).setI(1).build());
        m.graph.addInitializer(Tensor.fromRaw("fc.weight_q", DataType.INT8, new long[] {784, 10}, new byte[7840]).toProto());
        m.node("MatMulInteger", new String[] {"flat", "fc.weight_q"}, "logits");
        return m.build();
    }

    /** LeNet-style dense layer followed by Erf, an operator the training runtime does not interpret. */
    static OnnxModel withErf() {
        Models m = new Models(1);
        m.node("Flatten", new String[] {"image"}, "flat", AttributeProto.newBuilder().setName("axis")
                .setType(AttributeProto.AttributeType.INT).setI(1).build());
        m.dense("flat", 784, 10, "fc", "h");
        m.node("Erf", new String[] {"h"}, "logits");
        return m.build();
    }

    private void dense(String x, long in, long out, String name, String output) {
        double bound = 1 / Math.sqrt(in);
        graph.addInitializer(uniform(name + ".weight", bound, out, in));
        graph.addInitializer(uniform(name + ".bias", bound, out));
        node("Gemm", new String[] {x, name + ".weight", name + ".bias"}, output, AttributeProto.newBuilder().setName("transB")
                .setType(AttributeProto.AttributeType.INT).setI(1).build());
    }

    private TensorProto uniform(String name, double bound, long... shape) {
        int count = Math.toIntExact(io.condense.sdk.data.NdArray.elementCount(shape));
        float[] values = new float[count];
        for (int i = 0; i < count; i++) {
            values[i] = (float) ((random.nextDouble() * 2 - 1) * bound);
        }
        return Tensor.fromFloats(name, DataType.FLOAT, shape, values).toProto();
    }

    private void node(String op, String[] inputs, String output, AttributeProto... attributes) {
        NodeProto.Builder node = NodeProto.newBuilder().setOpType(op).setName(output + "_node").addOutput(output);
        for (String input : inputs) {
            node.addInput(input);
        }
        for (AttributeProto attribute : attributes) {
            node.addAttribute(attribute);
        }
        graph.addNode(node);
    }

    private static ValueInfoProto valueInfo(String name, long... shapeAfterBatch) {
        TensorShapeProto.Builder dims = TensorShapeProto.newBuilder();
        dims.addDim(TensorShapeProto.Dimension.newBuilder().setDimParam("batch"));
        for (long dim : shapeAfterBatch) {
            dims.addDim(TensorShapeProto.Dimension.newBuilder().setDimValue(dim));
        }
        return ValueInfoProto.newBuilder().setName(name).setType(TypeProto.newBuilder().setTensorType(
                TypeProto.Tensor.newBuilder().setElemType(TensorProto.DataType.FLOAT_VALUE).setShape(dims))).build();
    }

    private OnnxModel build() {
        return OnnxModel.of(ModelProto.newBuilder().setIrVersion(8).setProducerName("condense-tests")
                .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(13)).setGraph(graph).build());
    }
}
