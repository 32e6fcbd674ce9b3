package io.condense.sdk.model;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import io.condense.sdk.tensor.DataType;
import io.condense.sdk.tensor.Tensor;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Folds an inference-mode BatchNormalization into the Conv or Gemm that feeds it, as {@link ModelEditor#foldBatchNormalization()}
 * does: with {@code s = scale / sqrt(var + epsilon)} per channel, the layer's weight becomes {@code W s} along its output-channel
 * axis and its bias {@code (b - mean) s + B} (b = 0 without a bias), and the layer writes the BatchNormalization's output. The
 * arithmetic runs in double and rounds once to float32.
 *
 * <p>A pair is folded only when everything is known and nothing else sees the intermediate value: the layer's output is read by
 * that BatchNormalization alone and is not a graph output; the layer's weight and bias and the four BatchNormalization parameters
 * are dense float32 initializers of the right sizes; the BatchNormalization has one output (inference mode); a Gemm has
 * {@code transA=0}, a 2-D weight and no bias or a 1-D bias of one value per output feature. Other pairs are left as they are.
 */
final class BatchNormFolding {
    private static final float DEFAULT_EPSILON = 1e-5f;

    private BatchNormFolding() {
    }

    /** Folds every foldable pair of the edit; returns how many BatchNormalization nodes went. */
    static int fold(ModelEditor editor) {
        List<NodeProto> slots = editor.slotsView();
        Set<String> graphOutputs = new HashSet<>();
        for (var output : editor.baseModel().graph().getOutputList()) {
            graphOutputs.add(output.getName());
        }
        Map<String, Integer> readers = new HashMap<>();
        Map<String, Integer> producers = new HashMap<>();
        for (int i = 0; i < slots.size(); i++) {
            NodeProto node = slots.get(i);
            if (node == null) {
                continue;
            }
            count(node, readers);
            for (String output : node.getOutputList()) {
                producers.put(output, i);
            }
        }
        for (NodeProto node : editor.addedView()) {
            count(node, readers);
        }
        int folded = 0;
        for (int i = 0; i < slots.size(); i++) {
            NodeProto batchNorm = slots.get(i);
            if (batchNorm == null || !batchNorm.getOpType().equals("BatchNormalization") || !defaultDomain(batchNorm)
                    || batchNorm.getOutputCount() != 1 || batchNorm.getInputCount() != 5) {
                continue;
            }
            String between = batchNorm.getInput(0);
            Integer producerIndex = producers.get(between);
            if (producerIndex == null || readers.getOrDefault(between, 0) != 1 || graphOutputs.contains(between)) {
                continue;
            }
            NodeProto layer = slots.get(producerIndex);
            if (layer == null || !defaultDomain(layer) || layer.getOutputCount() != 1) {
                continue;
            }
            NodeProto replacement = foldPair(editor, layer, batchNorm, readers);
            if (replacement != null) {
                editor.replaceNode(producerIndex, replacement);
                editor.removeNode(i);
                folded++;
            }
        }
        return folded;
    }

    private static void count(NodeProto node, Map<String, Integer> readers) {
        for (String input : node.getInputList()) {
            if (!input.isEmpty()) {
                readers.merge(input, 1, Integer::sum);
            }
        }
    }

    private static boolean defaultDomain(NodeProto node) {
        return node.getDomain().isEmpty() || node.getDomain().equals("ai.onnx");
    }

    /** The layer rewritten to include the BatchNormalization, with its new initializers put into the edit; null when not foldable. */
    private static NodeProto foldPair(ModelEditor editor, NodeProto layer, NodeProto batchNorm, Map<String, Integer> readers) {
        boolean conv = layer.getOpType().equals("Conv");
        boolean gemm = layer.getOpType().equals("Gemm");
        if ((!conv && !gemm) || layer.getInputCount() < 2) {
            return null;
        }
        float[][] parameters = new float[4][];
        for (int p = 0; p < 4; p++) {
            parameters[p] = floats(editor, batchNorm.getInput(p + 1));
            if (parameters[p] == null) {
                return null;
            }
        }
        int channels = parameters[0].length;
        for (float[] parameter : parameters) {
            if (parameter.length != channels) {
                return null;
            }
        }
        TensorProto weightProto = floatInitializer(editor, layer.getInput(1));
        if (weightProto == null) {
            return null;
        }
        Tensor weight = Tensor.fromProto(weightProto);
        long[] shape = weight.shape();
        int axis;
        double beta = 1;
        if (conv) {
            axis = 0;
            if (shape.length < 3) {
                return null;
            }
        } else {
            if (NodeAttributes.getInt(layer, "transA", 0) != 0 || shape.length != 2) {
                return null;
            }
            axis = NodeAttributes.getInt(layer, "transB", 0) != 0 ? 0 : 1;
            beta = NodeAttributes.getFloat(layer, "beta", 1f);
        }
        if (shape[axis] != channels) {
            return null;
        }
        float[] bias = null;
        if (layer.getInputCount() >= 3 && !layer.getInput(2).isEmpty()) {
            bias = floats(editor, layer.getInput(2));
            if (bias == null || bias.length != channels || editor.initializerProto(layer.getInput(2)).getDimsCount() != 1) {
                return null;
            }
        }
        double epsilon = NodeAttributes.getFloat(batchNorm, "epsilon", DEFAULT_EPSILON);
        double[] factors = new double[channels];
        float[] newBias = new float[channels];
        for (int c = 0; c < channels; c++) {
            factors[c] = parameters[0][c] / Math.sqrt((double) parameters[3][c] + epsilon);
            double layerBias = bias == null ? 0 : beta * bias[c];
            newBias[c] = (float) ((layerBias - parameters[2][c]) * factors[c] + parameters[1][c]);
        }
        float[] values = weight.toFloatArray();
        int outer = 1;
        for (int d = 0; d < axis; d++) {
            outer *= (int) shape[d];
        }
        int inner = (int) (values.length / ((long) outer * channels));
        int index = 0;
        for (int o = 0; o < outer; o++) {
            for (int c = 0; c < channels; c++) {
                double factor = factors[c];
                for (int k = 0; k < inner; k++, index++) {
                    values[index] = (float) (values[index] * factor);
                }
            }
        }
        String weightName = ownName(editor, layer.getInput(1), readers, "_bn_folded");
        String biasName = bias != null ? ownName(editor, layer.getInput(2), readers, "_bn_folded")
                : editor.uniqueName(layer.getInput(1) + "_bn_bias");
        editor.putInitializer(Tensor.fromFloats(weightName, DataType.FLOAT, shape, values).toProto());
        editor.putInitializer(Tensor.fromFloats(biasName, DataType.FLOAT, new long[] {channels}, newBias).toProto());
        NodeProto.Builder changed = layer.toBuilder().setOutput(0, batchNorm.getOutput(0)).setInput(1, weightName);
        if (layer.getInputCount() >= 3) {
            changed.setInput(2, biasName);
        } else {
            changed.addInput(biasName);
        }
        if (gemm) {
            changed.clearAttribute();
            for (AttributeProto attribute : layer.getAttributeList()) {
                if (!attribute.getName().equals("beta")) {
                    changed.addAttribute(attribute);
                }
            }
        }
        return changed.build();
    }

    /** The initializer's own name when this layer is its only reader (it is then replaced), else a new unique name. */
    private static String ownName(ModelEditor editor, String name, Map<String, Integer> readers, String suffix) {
        return readers.getOrDefault(name, 0) == 1 ? name : editor.uniqueName(name + suffix);
    }

    private static TensorProto floatInitializer(ModelEditor editor, String name) {
        TensorProto proto = editor.initializerProto(name);
        if (proto == null || proto.getDataType() != TensorProto.DataType.FLOAT_VALUE
                || proto.getDataLocation() == TensorProto.DataLocation.EXTERNAL) {
            return null;
        }
        return proto;
    }

    private static float[] floats(ModelEditor editor, String name) {
        TensorProto proto = floatInitializer(editor, name);
        if (proto == null) {
            return null;
        }
        Tensor tensor = Tensor.fromProto(proto);
        if (tensor.rank() != 1) {
            return null;
        }
        return tensor.toFloatArray();
    }
}
