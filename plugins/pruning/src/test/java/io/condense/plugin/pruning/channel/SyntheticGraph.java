package io.condense.plugin.pruning.channel;

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

/** Small float32 ONNX graphs (opset 13) written by hand for the channel pruning rules. */
final class SyntheticGraph {
    private final GraphProto.Builder graph = GraphProto.newBuilder().setName("synthetic");
    private final Random random = new Random(7);
    private int nodes;

    SyntheticGraph input(String name, long... shape) {
        graph.addInput(value(name, shape));
        return this;
    }

    SyntheticGraph output(String name, long... shape) {
        graph.addOutput(value(name, shape));
        return this;
    }

    /** A random float initializer (values in [-1, 1)). */
    float[] random(String name, long... shape) {
        long count = 1;
        for (long dim : shape) {
            count *= dim;
        }
        float[] values = new float[Math.toIntExact(count)];
        for (int i = 0; i < values.length; i++) {
            values[i] = random.nextFloat() * 2 - 1;
        }
        return initializer(name, values, shape);
    }

    float[] initializer(String name, float[] values, long... shape) {
        graph.addInitializer(Tensor.fromFloats(name, DataType.FLOAT, shape, values).toProto());
        return values;
    }

    SyntheticGraph longs(String name, long... values) {
        graph.addInitializer(Tensor.fromLongs(name, new long[] {values.length}, values).toProto());
        return this;
    }

    /** Replaces an initializer's values (after zeroing some of them). */
    SyntheticGraph update(String name, float[] values) {
        for (int i = 0; i < graph.getInitializerCount(); i++) {
            TensorProto tensor = graph.getInitializer(i);
            if (tensor.getName().equals(name)) {
                long[] shape = tensor.getDimsList().stream().mapToLong(Long::longValue).toArray();
                graph.setInitializer(i, Tensor.fromFloats(name, DataType.FLOAT, shape, values).toProto());
                return this;
            }
        }
        throw new IllegalArgumentException("no initializer " + name);
    }

    /** A node; attributes as name, value pairs (Long, long[] or Float). */
    SyntheticGraph node(String op, String name, String[] inputs, String output, Object... attributes) {
        NodeProto.Builder node = NodeProto.newBuilder().setOpType(op).setName(name).addOutput(output);
        for (String input : inputs) {
            node.addInput(input);
        }
        for (int i = 0; i < attributes.length; i += 2) {
            AttributeProto.Builder attribute = AttributeProto.newBuilder().setName((String) attributes[i]);
            Object value = attributes[i + 1];
            if (value instanceof Long number) {
                attribute.setType(AttributeProto.AttributeType.INT).setI(number);
            } else if (value instanceof Integer number) {
                attribute.setType(AttributeProto.AttributeType.INT).setI(number);
            } else if (value instanceof long[] list) {
                attribute.setType(AttributeProto.AttributeType.INTS);
                for (long item : list) {
                    attribute.addInts(item);
                }
            } else if (value instanceof Float number) {
                attribute.setType(AttributeProto.AttributeType.FLOAT).setF(number);
            } else {
                throw new IllegalArgumentException("attribute " + value);
            }
            node.addAttribute(attribute);
        }
        graph.addNode(node);
        nodes++;
        return this;
    }

    /** Conv with a 3x3 kernel, padding 1 (shape kept), random weight [outputs, inputs/group, 3, 3] and bias. */
    SyntheticGraph conv(String name, String input, String output, int inputs, int outputs, int group) {
        random(name + ".weight", outputs, inputs / group, 3, 3);
        random(name + ".bias", outputs);
        return node("Conv", name, new String[] {input, name + ".weight", name + ".bias"}, output,
                "kernel_shape", new long[] {3, 3}, "pads", new long[] {1, 1, 1, 1}, "group", (long) group);
    }

    /** BatchNormalization with random scale, bias, mean and positive variance. */
    SyntheticGraph batchNormalization(String name, String input, String output, int channels) {
        random(name + ".scale", channels);
        random(name + ".bias", channels);
        random(name + ".mean", channels);
        float[] variance = new float[channels];
        for (int i = 0; i < channels; i++) {
            variance[i] = 0.5f + random.nextFloat();
        }
        initializer(name + ".var", variance, channels);
        return node("BatchNormalization", name, new String[] {input, name + ".scale", name + ".bias", name + ".mean", name + ".var"}, output);
    }

    OnnxModel build() {
        ModelProto model = ModelProto.newBuilder().setIrVersion(8).setProducerName("condense-test")
                .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(13)).setGraph(graph).build();
        return OnnxModel.of(model);
    }

    /** Sets output channel {@code channel} of a layer's weight (axis 0) to zero, and the same entry of each listed vector. */
    static void zeroChannel(float[] weight, int channels, int channel, float[]... vectors) {
        int size = weight.length / channels;
        java.util.Arrays.fill(weight, channel * size, (channel + 1) * size, 0f);
        for (float[] vector : vectors) {
            vector[channel] = 0f;
        }
    }

    private static ValueInfoProto value(String name, long... shape) {
        TensorShapeProto.Builder dims = TensorShapeProto.newBuilder();
        for (long dim : shape) {
            dims.addDim(TensorShapeProto.Dimension.newBuilder().setDimValue(dim));
        }
        return ValueInfoProto.newBuilder().setName(name).setType(TypeProto.newBuilder().setTensorType(
                TypeProto.Tensor.newBuilder().setElemType(TensorProto.DataType.FLOAT_VALUE).setShape(dims))).build();
    }
}
