package io.condense.plugin.binarization;

import ai.onnx.proto.OnnxMl.NodeProto;
import io.condense.sdk.model.ModelEditor;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.model.WeightLayer;
import io.condense.sdk.stats.ModelStats;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Binary activations ({@code activations=1}, XNOR-Net's W1-A1): every changed layer reads {@code Sign} of its input, so
 * both operands of its multiply-accumulates are 1 bit and a binary kernel could run them as XNOR and popcount. A value
 * read by several changed layers gets one Sign. The activations carry no scale (XNOR-Net's per-position K is left out,
 * as BNN and Bi-Real Net do); {@code finetune} trains through the Sign with the clipped straight-through estimator
 * (gradient 1 where |x| <= 1). ONNX Runtime runs the model as is, with float kernels on the +-1 values.
 */
final class BinaryActivations {
    /** What {@link #apply} changed: the Sign nodes added and the layer nodes whose both inputs are now binary. */
    record Outcome(int signs, Set<String> binaryLayers) {
    }

    private BinaryActivations() {
    }

    /** Puts a Sign before the activation input (input 0) of every layer in {@code layers}. */
    static Outcome apply(ModelEditor editor, List<WeightLayer> layers) {
        Map<String, String> signOf = new LinkedHashMap<>();
        Set<String> binaryLayers = new LinkedHashSet<>();
        Set<Integer> rewired = new LinkedHashSet<>();
        for (WeightLayer layer : layers) {
            if (!rewired.add(layer.nodeIndex())) {
                continue;
            }
            NodeProto node = editor.node(layer.nodeIndex());
            String input = node.getInput(0);
            String sign = signOf.computeIfAbsent(input, value -> {
                String output = editor.uniqueName(value + "_sign");
                editor.addNode(NodeProto.newBuilder().setOpType("Sign").setName(editor.uniqueName(value + "_Sign")).addInput(value)
                        .addOutput(output).build());
                return output;
            });
            editor.replaceNode(layer.nodeIndex(), NodeProto.newBuilder(node).setInput(0, sign).build());
            binaryLayers.add(layer.displayName());
        }
        return new Outcome(signOf.size(), binaryLayers);
    }

    /**
     * The report's MAC figures of the written model: {@code macs} (every Conv, Gemm and MatMul), {@code binary_macs}
     * (those of layers with binary weights and binary inputs: XNOR/popcount operations) and their share.
     */
    static Map<String, Object> macs(OnnxModel written, Outcome outcome) {
        ModelStats stats = ModelStats.of(written);
        long binary = 0;
        for (Map.Entry<String, Long> entry : stats.macsByNode().entrySet()) {
            if (outcome.binaryLayers().contains(entry.getKey())) {
                binary += entry.getValue();
            }
        }
        Map<String, Object> report = new LinkedHashMap<>();
        report.put("sign_nodes", outcome.signs());
        report.put("binary_layers", List.copyOf(outcome.binaryLayers()));
        report.put("macs", stats.macs());
        report.put("binary_macs", binary);
        report.put("binary_mac_share", stats.macs() == 0 ? 0.0 : (double) binary / stats.macs());
        return report;
    }
}
