package io.condense.plugin.binarization;

import ai.onnx.proto.OnnxMl.NodeProto;
import io.condense.sdk.model.WeightLayer;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The first and last weight layers, which {@code keep_first_last} leaves in float. First layers are those with no
 * weight layer upstream of them (they see the model's input through weight-free operators only); last layers are
 * those with no weight layer downstream (their output reaches a model output through weight-free operators only).
 * A chain has one of each; a detector with several heads has several last layers.
 */
final class FirstAndLastLayers {
    private FirstAndLastLayers() {
    }

    /**
     * The node indices of the weight layers that have no weight layer upstream or none downstream. Nodes must
     * be in topological order (as {@link io.condense.sdk.model.ModelEditor#build()} leaves them).
     */
    static Set<Integer> find(List<NodeProto> nodes, List<WeightLayer> layers) {
        Set<Integer> weightNodes = new HashSet<>();
        for (WeightLayer layer : layers) {
            weightNodes.add(layer.nodeIndex());
        }
        Set<Integer> result = new HashSet<>();
        // values computed from some weight layer's output
        Set<String> afterWeights = new HashSet<>();
        for (int i = 0; i < nodes.size(); i++) {
            NodeProto node = nodes.get(i);
            boolean upstream = false;
            for (String input : node.getInputList()) {
                upstream |= afterWeights.contains(input);
            }
            boolean weightLayer = weightNodes.contains(i);
            if (weightLayer && !upstream) {
                result.add(i);
            }
            if (weightLayer || upstream) {
                afterWeights.addAll(node.getOutputList());
            }
        }
        // values some weight layer reads, directly or through weight-free nodes
        Set<String> beforeWeights = new HashSet<>();
        for (int i = nodes.size() - 1; i >= 0; i--) {
            NodeProto node = nodes.get(i);
            boolean downstream = false;
            for (String output : node.getOutputList()) {
                downstream |= beforeWeights.contains(output);
            }
            boolean weightLayer = weightNodes.contains(i);
            if (weightLayer && !downstream) {
                result.add(i);
            }
            if (weightLayer || downstream) {
                beforeWeights.addAll(node.getInputList());
            }
        }
        return result;
    }
}
