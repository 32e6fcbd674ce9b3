package io.condense.plugin.quantization;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import com.google.protobuf.ByteString;
import io.condense.sdk.model.OnnxModel;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Random;
import java.util.Set;

/**
 * The ONNX "light" models ({@code ../shared/models/onnx_light}) carry no weights: every float initializer was replaced by a
 * {@code ConstantOfShape} node (one value) fed by an int64 shape. {@link #materialize} builds a copy in which each of those
 * nodes becomes a float initializer of the same name and shape with random but plausible values (fixed seed), so that
 * quantization, which only quantizes weights that are initializers, sees an ordinary model.
 *
 * <p>Values by the Caffe2 names these exports use: convolution and fully connected weights ({@code _w_0}): He-normal,
 * sigma = sqrt(2 / fan_in); BatchNormalization scale ({@code _bn_s_0}) uniform 0.5..1.0 (0.1..0.3 for the last one of a
 * residual branch, {@code branch2c}, so that the residual sums stay bounded over 16 blocks), bias ({@code _bn_b_0}, {@code _b_0})
 * normal sigma 0.05, running mean ({@code _rm_0}) normal sigma 0.1, running variance ({@code _riv_0}) uniform 0.5..1.5.
 */
final class LightModels {
    private LightModels() {
    }

    static OnnxModel materialize(OnnxModel light, long seed) {
        GraphProto graph = light.graph();
        Map<String, TensorProto> initializers = new HashMap<>();
        for (TensorProto tensor : graph.getInitializerList()) {
            initializers.put(tensor.getName(), tensor);
        }
        Map<String, TensorProto> constants = new HashMap<>();
        for (NodeProto node : graph.getNodeList()) {
            if (node.getOpType().equals("Constant")) {
                for (AttributeProto attribute : node.getAttributeList()) {
                    if (attribute.getName().equals("value")) {
                        constants.put(node.getOutput(0), attribute.getT());
                    }
                }
            }
        }
        Random random = new Random(seed);
        GraphProto.Builder out = graph.toBuilder().clearNode().clearInitializer();
        Set<String> shapeNames = new HashSet<>();
        int materialized = 0;
        long parameters = 0;
        for (NodeProto node : graph.getNodeList()) {
            if (!node.getOpType().equals("ConstantOfShape")) {
                out.addNode(node);
                continue;
            }
            String shapeName = node.getInput(0);
            TensorProto shapeTensor = initializers.containsKey(shapeName) ? initializers.get(shapeName) : constants.get(shapeName);
            if (shapeTensor == null) {
                out.addNode(node); // a computed shape: leave it
                continue;
            }
            shapeNames.add(shapeName);
            long[] shape = longs(shapeTensor);
            String name = node.getOutput(0);
            out.addInitializer(randomTensor(name, shape, random));
            materialized++;
            long count = 1;
            for (long d : shape) {
                count *= d;
            }
            parameters += count;
        }
        // drop the shape initializers (and Constant nodes) nothing reads any more, and graph inputs naming them
        Set<String> stillRead = new HashSet<>();
        for (NodeProto node : out.getNodeList()) {
            stillRead.addAll(node.getInputList());
        }
        for (TensorProto tensor : graph.getInitializerList()) {
            if (!shapeNames.contains(tensor.getName()) || stillRead.contains(tensor.getName())) {
                out.addInitializer(tensor);
            }
        }
        for (int i = out.getNodeCount() - 1; i >= 0; i--) {
            NodeProto node = out.getNode(i);
            if (node.getOpType().equals("Constant") && shapeNames.contains(node.getOutput(0)) && !stillRead.contains(node.getOutput(0))) {
                out.removeNode(i);
            }
        }
        for (int i = out.getInputCount() - 1; i >= 0; i--) {
            String name = out.getInput(i).getName();
            if (shapeNames.contains(name) && !stillRead.contains(name)) {
                out.removeInput(i);
            }
        }
        System.out.printf("%s: %d ConstantOfShape nodes materialized as initializers, %.1f M parameters (seed %d)%n", graph.getName(),
                materialized, parameters / 1e6, seed);
        ModelProto model = light.proto().toBuilder().setGraph(out).build();
        return OnnxModel.of(model);
    }

    private static TensorProto randomTensor(String name, long[] shape, Random random) {
        int count = 1;
        long fanIn = 1;
        for (int i = 0; i < shape.length; i++) {
            count = Math.multiplyExact(count, Math.toIntExact(shape[i]));
            if (i > 0) {
                fanIn *= shape[i];
            }
        }
        ByteBuffer bytes = ByteBuffer.allocate(4 * count).order(ByteOrder.LITTLE_ENDIAN);
        boolean branchEnd = name.contains("branch2c");
        for (int i = 0; i < count; i++) {
            double v;
            if (name.endsWith("_bn_s_0")) {
                v = branchEnd ? 0.1 + 0.2 * random.nextDouble() : 0.5 + 0.5 * random.nextDouble();
            } else if (name.endsWith("_riv_0")) {
                v = 0.5 + random.nextDouble();
            } else if (name.endsWith("_rm_0")) {
                v = 0.1 * random.nextGaussian();
            } else if (name.endsWith("_w_0") && shape.length >= 2) {
                v = Math.sqrt(2.0 / fanIn) * random.nextGaussian();
            } else {
                v = 0.05 * random.nextGaussian(); // biases
            }
            bytes.putFloat((float) v);
        }
        TensorProto.Builder tensor = TensorProto.newBuilder().setName(name).setDataType(1) // FLOAT
                .setRawData(ByteString.copyFrom(bytes.array()));
        for (long d : shape) {
            tensor.addDims(d);
        }
        return tensor.build();
    }

    private static long[] longs(TensorProto tensor) {
        if (tensor.getInt64DataCount() > 0) {
            return tensor.getInt64DataList().stream().mapToLong(Long::longValue).toArray();
        }
        ByteBuffer raw = tensor.getRawData().asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
        long[] values = new long[raw.remaining() / 8];
        for (int i = 0; i < values.length; i++) {
            values[i] = raw.getLong();
        }
        return values;
    }
}
