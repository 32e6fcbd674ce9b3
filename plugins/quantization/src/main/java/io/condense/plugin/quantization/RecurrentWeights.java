package io.condense.plugin.quantization;

import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.model.LayerSelection;
import io.condense.sdk.model.ModelEditor;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.model.QdqWeights;
import io.condense.sdk.model.WeightLayer;
import io.condense.sdk.tensor.ChannelLayout;
import io.condense.sdk.tensor.DataType;
import io.condense.sdk.tensor.Tensor;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * int8 weights for LSTM, GRU and RNN: W ([directions, gates x hidden, input]) and R ([directions, gates x hidden,
 * hidden]) through DequantizeLinear, per channel along axis 1 (one scale per gate and hidden unit) or per tensor. The
 * recurrence itself stays float: ONNX Runtime dequantizes the weights once and runs its float kernel, so this saves
 * storage, as for weight-only Conv and MatMul. Biases, initial states and peepholes stay float.
 */
final class RecurrentWeights {
    private static final Set<String> RECURRENT = Set.of("LSTM", "GRU", "RNN");

    /** What was quantized, and the report entries of each weight. */
    record Outcome(int weights, long bytesBefore, long bytesAfter, double signal, double noise, List<Map<String, Object>> layers) {
    }

    private RecurrentWeights() {
    }

    /**
     * Quantizes the W and R initializers of every recurrent node of {@code source} into {@code editor} and removes those
     * nodes from {@code skipped} (where {@link LayerSelection#unhandled} named them). Nodes matched by an exclude pattern
     * or whose op type is in {@code excludedOps} stay float. {@code editor} must already import opset 13 for per-channel scales (10 per tensor).
     */
    static Outcome quantize(OnnxModel source, ModelEditor editor, boolean perChannel, List<Pattern> excluded,
            List<String> excludedOps, List<LayerSelection.Skipped> skipped) {
        List<Map<String, Object>> layers = new ArrayList<>();
        Set<String> done = new HashSet<>();
        Set<String> quantizedNodes = new HashSet<>();
        long bytesBefore = 0;
        long bytesAfter = 0;
        double signal = 0;
        double noise = 0;
        List<NodeProto> nodes = source.nodes();
        for (int index = 0; index < nodes.size(); index++) {
            NodeProto node = nodes.get(index);
            if (!RECURRENT.contains(node.getOpType()) || !(node.getDomain().isEmpty() || node.getDomain().equals("ai.onnx"))
                    || excludedOps.contains(node.getOpType())) {
                continue;
            }
            String name = node.getName().isEmpty() ? node.getOutput(0) : node.getName();
            if (matches(excluded, name) || matches(excluded, node.getOutputCount() > 0 ? node.getOutput(0) : "")) {
                continue;
            }
            for (int position = 1; position <= 2 && position < node.getInputCount(); position++) {
                String weight = node.getInput(position);
                TensorProto proto = source.initializer(weight).orElse(null);
                if (proto == null || proto.getDataType() != DataType.FLOAT.onnxCode() || proto.getDimsCount() != 3
                        || !done.add(weight) || matches(excluded, weight) || source.consumers(weight).size() != 1) {
                    continue;
                }
                Tensor tensor = Tensor.fromProto(proto);
                long[] shape = tensor.shape();
                if (tensor.elementCount() == 0 || tensor.elementCount() > Integer.MAX_VALUE - 8) {
                    continue;
                }
                float[] values = tensor.toFloatArray();
                ChannelLayout layout = perChannel ? ChannelLayout.of(shape, 1) : ChannelLayout.perTensor(values.length);
                float[] scales = new float[layout.channels()];
                if (SymmetricQuantizer.scales(values, layout, scales) >= 0) {
                    continue; // a NaN or infinity: left float, the node stays named in skipped
                }
                byte[] levels = new byte[values.length];
                SymmetricQuantizer.Energies energies = SymmetricQuantizer.quantize(values, layout, scales, levels);
                try {
                    QdqWeights.write(editor, weight, List.of(new WeightLayer(node, index, weight, null, 1, 2)), "quantized",
                            DataType.INT8, shape, levels, scales, perChannel ? OptionalInt.of(1) : OptionalInt.empty());
                } catch (CondenseException e) {
                    continue;
                }
                quantizedNodes.add(name);
                long floatBytes = 4L * values.length;
                long quantizedBytes = values.length + 5L * scales.length;
                bytesBefore += floatBytes;
                bytesAfter += quantizedBytes;
                signal += energies.signal();
                noise += energies.noise();
                Map<String, Object> layer = new LinkedHashMap<>();
                layer.put("name", name);
                layer.put("op", node.getOpType());
                layer.put("weight", weight);
                layer.put("role", position == 1 ? "W (input weights)" : "R (recurrence weights)");
                layer.put("shape", List.of(shape[0], shape[1], shape[2]));
                layer.put("elements", values.length);
                layer.put("granularity", perChannel ? "per_channel" : "per_tensor");
                if (perChannel) {
                    layer.put("axis", 1);
                }
                layer.put("scales", scales.length);
                layer.put("sqnr_db", energies.sqnrDb());
                layer.put("bytes_before", floatBytes);
                layer.put("bytes_after", quantizedBytes);
                layers.add(layer);
            }
        }
        for (Iterator<LayerSelection.Skipped> it = skipped.iterator(); it.hasNext();) {
            LayerSelection.Skipped entry = it.next();
            if (RECURRENT.contains(entry.opTypes()) && quantizedNodes.contains(entry.layerNames())) {
                it.remove();
            }
        }
        return new Outcome(layers.size(), bytesBefore, bytesAfter, signal, noise, layers);
    }

    /** Whether the source has a recurrent node reading a float initializer. */
    static boolean present(OnnxModel source) {
        for (NodeProto node : source.nodes()) {
            if (RECURRENT.contains(node.getOpType()) && node.getInputCount() > 2 && source.isInitializer(node.getInput(1))) {
                return true;
            }
        }
        return false;
    }

    private static boolean matches(List<Pattern> patterns, String text) {
        if (text.isEmpty()) {
            return false;
        }
        for (Pattern pattern : patterns) {
            if (pattern.matcher(text).matches()) {
                return true;
            }
        }
        return false;
    }
}
