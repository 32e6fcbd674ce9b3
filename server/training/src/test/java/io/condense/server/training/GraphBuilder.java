package io.condense.server.training;

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

/**
 * Builds small ONNX graphs with protobuf builders for tests and the LeNet command: float inputs with a dynamic
 * batch, nodes with attributes, initializers with seeded random values.
 */
public final class GraphBuilder {
    private final GraphProto.Builder graph = GraphProto.newBuilder().setName("graph");
    private final long opset;
    private final Random random;
    private int counter;

    public GraphBuilder(long opset, long seed) {
        this.opset = opset;
        this.random = new Random(seed);
    }

    /** A float input whose first dimension is the dynamic "batch" (a 0 in {@code shape} marks it). */
    public GraphBuilder input(String name, long... shape) {
        graph.addInput(valueInfo(name, shape));
        return this;
    }

    public GraphBuilder output(String name, long... shape) {
        graph.addOutput(valueInfo(name, shape));
        return this;
    }

    private static ValueInfoProto valueInfo(String name, long... shape) {
        TensorShapeProto.Builder dims = TensorShapeProto.newBuilder();
        for (long dim : shape) {
            if (dim <= 0) {
                dims.addDim(TensorShapeProto.Dimension.newBuilder().setDimParam("batch"));
            } else {
                dims.addDim(TensorShapeProto.Dimension.newBuilder().setDimValue(dim));
            }
        }
        return ValueInfoProto.newBuilder().setName(name).setType(TypeProto.newBuilder().setTensorType(
                TypeProto.Tensor.newBuilder().setElemType(TensorProto.DataType.FLOAT_VALUE).setShape(dims))).build();
    }

    /** A float initializer uniform in [-bound, bound). */
    public String uniform(String name, double bound, long... shape) {
        int count = Math.toIntExact(io.condense.sdk.data.NdArray.elementCount(shape));
        float[] values = new float[count];
        for (int i = 0; i < count; i++) {
            values[i] = (float) ((random.nextDouble() * 2 - 1) * bound);
        }
        return floats(name, shape, values);
    }

    /** A weight with PyTorch's default initialisation bound 1/sqrt(fan in). */
    public String weight(String name, long fanIn, long... shape) {
        return uniform(name, 1 / Math.sqrt(fanIn), shape);
    }

    public String floats(String name, long[] shape, float[] values) {
        graph.addInitializer(Tensor.fromFloats(name, DataType.FLOAT, shape, values).toProto());
        return name;
    }

    public String constant(String name, float value) {
        return floats(name, new long[0], new float[] {value});
    }

    public String longs(String name, long... values) {
        graph.addInitializer(Tensor.fromLongs(name, new long[] {values.length}, values).toProto());
        return name;
    }

    public String bytes(String name, DataType type, long[] shape, byte[] values) {
        graph.addInitializer(Tensor.fromRaw(name, type, shape, values).toProto());
        return name;
    }

    /** Adds a node with one output and returns the output's name. Attributes: name, value pairs (Long, Float, String, long[], float[]). */
    public String node(String op, String[] inputs, Object... attributes) {
        String output = op.toLowerCase(java.util.Locale.ROOT) + "_" + (counter++);
        nodeWithOutput(op, inputs, output, attributes);
        return output;
    }

    public String node(String op, String input, Object... attributes) {
        return node(op, new String[] {input}, attributes);
    }

    public GraphBuilder nodeWithOutput(String op, String[] inputs, String output, Object... attributes) {
        NodeProto.Builder node = NodeProto.newBuilder().setOpType(op).setName(output + "_node").addOutput(output);
        for (String input : inputs) {
            node.addInput(input);
        }
        for (int i = 0; i < attributes.length; i += 2) {
            node.addAttribute(attribute((String) attributes[i], attributes[i + 1]));
        }
        graph.addNode(node);
        return this;
    }

    public GraphBuilder rawNode(NodeProto node) {
        graph.addNode(node);
        return this;
    }

    private static AttributeProto attribute(String name, Object value) {
        AttributeProto.Builder attribute = AttributeProto.newBuilder().setName(name);
        if (value instanceof Integer || value instanceof Long) {
            attribute.setType(AttributeProto.AttributeType.INT).setI(((Number) value).longValue());
        } else if (value instanceof Float || value instanceof Double) {
            attribute.setType(AttributeProto.AttributeType.FLOAT).setF(((Number) value).floatValue());
        } else if (value instanceof String text) {
            attribute.setType(AttributeProto.AttributeType.STRING).setS(com.google.protobuf.ByteString.copyFromUtf8(text));
        } else if (value instanceof long[] ints) {
            attribute.setType(AttributeProto.AttributeType.INTS);
            for (long v : ints) {
                attribute.addInts(v);
            }
        } else if (value instanceof float[] floats) {
            attribute.setType(AttributeProto.AttributeType.FLOATS);
            for (float v : floats) {
                attribute.addFloats(v);
            }
        } else {
            throw new IllegalArgumentException("attribute " + name + ": " + value);
        }
        return attribute.build();
    }

    public OnnxModel build() {
        ModelProto model = ModelProto.newBuilder().setIrVersion(8).setProducerName("condense-tests")
                .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(opset)).setGraph(graph).build();
        return OnnxModel.of(model);
    }

    /** LeNet-300-100: Flatten, Gemm 784-300, Relu, Gemm 300-100, Relu, Gemm 100-10 (logits "logits"). */
    public static OnnxModel leNet300100(long seed) {
        GraphBuilder b = new GraphBuilder(13, seed);
        b.input("image", 0, 1, 28, 28);
        String x = b.node("Flatten", "image", "axis", 1L);
        x = b.dense(x, 784, 300, "fc1");
        x = b.node("Relu", x);
        x = b.dense(x, 300, 100, "fc2");
        x = b.node("Relu", x);
        x = b.dense(x, 100, 10, "fc3");
        b.nodeWithOutput("Identity", new String[] {x}, "logits");
        return b.output("logits", 0, 10).build();
    }

    /**
     * LeNet-5 as PyTorch tutorials write it for 28x28 images: Conv 1-6 5x5 pad 2, Relu, MaxPool 2, Conv 6-16 5x5,
     * Relu, MaxPool 2, Flatten, Gemm 400-120, Relu, Gemm 120-84, Relu, Gemm 84-10 (logits "logits").
     */
    public static OnnxModel leNet5(long seed) {
        GraphBuilder b = new GraphBuilder(13, seed);
        b.input("image", 0, 1, 28, 28);
        String x = b.conv("image", 1, 6, 5, 2, "conv1");
        x = b.node("Relu", x);
        x = b.node("MaxPool", x, "kernel_shape", new long[] {2, 2}, "strides", new long[] {2, 2});
        x = b.conv(x, 6, 16, 5, 0, "conv2");
        x = b.node("Relu", x);
        x = b.node("MaxPool", x, "kernel_shape", new long[] {2, 2}, "strides", new long[] {2, 2});
        x = b.node("Flatten", x, "axis", 1L);
        x = b.dense(x, 400, 120, "fc1");
        x = b.node("Relu", x);
        x = b.dense(x, 120, 84, "fc2");
        x = b.node("Relu", x);
        x = b.dense(x, 84, 10, "fc3");
        b.nodeWithOutput("Identity", new String[] {x}, "logits");
        return b.output("logits", 0, 10).build();
    }

    /** Gemm with transB=1, weight [out, in] and bias [out], PyTorch's Linear initialisation. */
    public String dense(String x, long in, long out, String name) {
        String w = weight(name + ".weight", in, out, in);
        String bias = weight(name + ".bias", in, out);
        return node("Gemm", new String[] {x, w, bias}, "transB", 1L);
    }

    /** Conv with a k x k kernel, symmetric padding, PyTorch's initialisation. */
    public String conv(String x, long in, long out, long k, long pad, String name) {
        String w = weight(name + ".weight", in * k * k, out, in, k, k);
        String bias = weight(name + ".bias", in * k * k, out);
        return node("Conv", new String[] {x, w, bias}, "kernel_shape", new long[] {k, k}, "pads", new long[] {pad, pad, pad, pad});
    }
}
