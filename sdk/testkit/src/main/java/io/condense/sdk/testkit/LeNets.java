package io.condense.sdk.testkit;

import static io.condense.sdk.testkit.Attributes.ints;
import static io.condense.sdk.testkit.Attributes.scalar;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.OperatorSetIdProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnx.proto.OnnxMl.TensorShapeProto;
import ai.onnx.proto.OnnxMl.TypeProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import io.condense.sdk.data.NdArray;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.tensor.DataType;
import io.condense.sdk.tensor.Tensor;
import java.util.Random;

/**
 * The two LeNets of the issue as ONNX graphs (opset 13, float input {@code image [batch, 1, 28, 28]} in [0, 1], output
 * {@code logits [batch, 10]}), with PyTorch's default initialisation (uniform in +-1/sqrt(fan in)) from a seeded
 * {@link Random}: the same networks as {@code server/training}'s {@code GraphBuilder} builds for {@code train-lenet}.
 */
public final class LeNets {
    private final GraphProto.Builder graph = GraphProto.newBuilder().setName("graph");
    private final Random random;
    private int counter;

    private LeNets(long seed) {
        this.random = new Random(seed);
        graph.addInput(valueInfo("image", 1, 28, 28));
        graph.addOutput(valueInfo("logits", 10));
    }

    /** LeNet-300-100: Flatten, Gemm 784-300, Relu, Gemm 300-100, Relu, Gemm 100-10; 266,610 parameters. */
    public static OnnxModel leNet300100(long seed) {
        LeNets b = new LeNets(seed);
        String x = b.node("Flatten", new String[] {"image"}, scalar("axis", 1));
        x = b.dense(x, 784, 300, "fc1");
        x = b.node("Relu", new String[] {x});
        x = b.dense(x, 300, 100, "fc2");
        x = b.node("Relu", new String[] {x});
        x = b.dense(x, 100, 10, "fc3");
        b.nodeWithOutput("Identity", new String[] {x}, "logits");
        return b.build();
    }

    /**
     * LeNet-5 as PyTorch tutorials write it for 28x28 images: Conv 1-6 5x5 pad 2, Relu, MaxPool 2, Conv 6-16 5x5, Relu,
     * MaxPool 2, Flatten, Gemm 400-120, Relu, Gemm 120-84, Relu, Gemm 84-10; 61,706 parameters.
     */
    public static OnnxModel leNet5(long seed) {
        LeNets b = new LeNets(seed);
        String x = b.conv("image", 1, 6, 5, 2, "conv1");
        x = b.node("Relu", new String[] {x});
        x = b.node("MaxPool", new String[] {x}, ints("kernel_shape", 2, 2), ints("strides", 2, 2));
        x = b.conv(x, 6, 16, 5, 0, "conv2");
        x = b.node("Relu", new String[] {x});
        x = b.node("MaxPool", new String[] {x}, ints("kernel_shape", 2, 2), ints("strides", 2, 2));
        x = b.node("Flatten", new String[] {x}, scalar("axis", 1));
        x = b.dense(x, 400, 120, "fc1");
        x = b.node("Relu", new String[] {x});
        x = b.dense(x, 120, 84, "fc2");
        x = b.node("Relu", new String[] {x});
        x = b.dense(x, 84, 10, "fc3");
        b.nodeWithOutput("Identity", new String[] {x}, "logits");
        return b.build();
    }

    /**
     * The LeNet-5 of Caffe's MNIST example, the one Deep Compression's table 1 compresses 39x: Conv 1-20 5x5, MaxPool 2,
     * Conv 20-50 5x5, MaxPool 2, Flatten, Gemm 800-500, Relu, Gemm 500-10; 431,080 parameters.
     */
    public static OnnxModel leNet5Caffe(long seed) {
        LeNets b = new LeNets(seed);
        String x = b.conv("image", 1, 20, 5, 0, "conv1");
        x = b.node("MaxPool", new String[] {x}, ints("kernel_shape", 2, 2), ints("strides", 2, 2));
        x = b.conv(x, 20, 50, 5, 0, "conv2");
        x = b.node("MaxPool", new String[] {x}, ints("kernel_shape", 2, 2), ints("strides", 2, 2));
        x = b.node("Flatten", new String[] {x}, scalar("axis", 1));
        x = b.dense(x, 800, 500, "fc1");
        x = b.node("Relu", new String[] {x});
        x = b.dense(x, 500, 10, "fc2");
        b.nodeWithOutput("Identity", new String[] {x}, "logits");
        return b.build();
    }

    /**
     * A small VGG-style CNN with BatchNormalization, for network slimming: four 3x3 convolutions (padding 1), each followed
     * by BatchNormalization and Relu: 1-8 and MaxPool 2 (14x14), 8-16 and MaxPool 2 (7x7), 16-32, 32-32; then
     * GlobalAveragePool, Flatten and Gemm 32-10. 15,818 parameters (with the running statistics), about 0.96 M multiply-accumulates an image. BatchNormalization
     * starts at scale 1, shift 0, mean 0, variance 1 (PyTorch's), momentum 0.9 in ONNX's sense (PyTorch's 0.1).
     */
    public static OnnxModel smallVgg(long seed) {
        return vgg(seed, 8, 16, 32, 32);
    }

    /**
     * The VGG-style CNN of {@link #smallVgg} with other widths: four 3x3 convolutions (padding 1) of {@code widths[0..3]}
     * channels, each followed by BatchNormalization and Relu, MaxPool 2 after the first two, then GlobalAveragePool, Flatten
     * and Gemm {@code widths[3]}-10. {@code vgg(seed, 32, 64, 128, 128)}: 4 x the small one's widths, about 14.7 M
     * multiply-accumulates an image; MACs grow with the square of the width
     * (784 x 9 x w0 + 196 x 9 x w0 x w1 + 49 x 9 x (w1 x w2 + w2 x w3)).
     */
    public static OnnxModel vgg(long seed, int... widths) {
        if (widths.length != 4) {
            throw new IllegalArgumentException("a VGG-style CNN here has four convolutions: give four widths, got " + widths.length);
        }
        LeNets b = new LeNets(seed);
        String x = b.convBnRelu("image", 1, widths[0], "conv1");
        x = b.node("MaxPool", new String[] {x}, ints("kernel_shape", 2, 2), ints("strides", 2, 2));
        x = b.convBnRelu(x, widths[0], widths[1], "conv2");
        x = b.node("MaxPool", new String[] {x}, ints("kernel_shape", 2, 2), ints("strides", 2, 2));
        x = b.convBnRelu(x, widths[1], widths[2], "conv3");
        x = b.convBnRelu(x, widths[2], widths[3], "conv4");
        x = b.node("GlobalAveragePool", new String[] {x});
        x = b.node("Flatten", new String[] {x}, scalar("axis", 1));
        x = b.dense(x, widths[3], 10, "fc");
        b.nodeWithOutput("Identity", new String[] {x}, "logits");
        return b.build();
    }

    private String convBnRelu(String x, long in, long out, String name) {
        String y = conv(x, in, out, 3, 1, name);
        float[] ones = new float[(int) out];
        java.util.Arrays.fill(ones, 1f);
        float[] zeros = new float[(int) out];
        graph.addInitializer(Tensor.fromFloats(name + ".bn.scale", DataType.FLOAT, new long[] {out}, ones).toProto());
        graph.addInitializer(Tensor.fromFloats(name + ".bn.bias", DataType.FLOAT, new long[] {out}, zeros).toProto());
        graph.addInitializer(Tensor.fromFloats(name + ".bn.mean", DataType.FLOAT, new long[] {out}, zeros).toProto());
        graph.addInitializer(Tensor.fromFloats(name + ".bn.var", DataType.FLOAT, new long[] {out}, ones).toProto());
        AttributeProto momentum = AttributeProto.newBuilder().setName("momentum").setType(AttributeProto.AttributeType.FLOAT)
                .setF(0.9f).build();
        y = node("BatchNormalization", new String[] {y, name + ".bn.scale", name + ".bn.bias", name + ".bn.mean", name + ".bn.var"},
                momentum);
        return node("Relu", new String[] {y});
    }

    private String dense(String x, long in, long out, String name) {
        weight(name + ".weight", in, out, in);
        weight(name + ".bias", in, out);
        return node("Gemm", new String[] {x, name + ".weight", name + ".bias"}, scalar("transB", 1));
    }

    private String conv(String x, long in, long out, long k, long pad, String name) {
        weight(name + ".weight", in * k * k, out, in, k, k);
        weight(name + ".bias", in * k * k, out);
        return node("Conv", new String[] {x, name + ".weight", name + ".bias"}, ints("kernel_shape", k, k),
                ints("pads", pad, pad, pad, pad));
    }

    private void weight(String name, long fanIn, long... shape) {
        double bound = 1 / Math.sqrt(fanIn);
        int count = Math.toIntExact(NdArray.elementCount(shape));
        float[] values = new float[count];
        for (int i = 0; i < count; i++) {
            values[i] = (float) ((random.nextDouble() * 2 - 1) * bound);
        }
        graph.addInitializer(Tensor.fromFloats(name, DataType.FLOAT, shape, values).toProto());
    }

    private String node(String op, String[] inputs, AttributeProto... attributes) {
        String output = op.toLowerCase(java.util.Locale.ROOT) + "_" + (counter++);
        nodeWithOutput(op, inputs, output, attributes);
        return output;
    }

    private void nodeWithOutput(String op, String[] inputs, String output, AttributeProto... attributes) {
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
        return OnnxModel.of(ModelProto.newBuilder().setIrVersion(8).setProducerName("condense-bench")
                .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(13)).setGraph(graph).build());
    }
}
