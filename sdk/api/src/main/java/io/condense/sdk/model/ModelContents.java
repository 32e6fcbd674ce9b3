package io.condense.sdk.model;

import static java.util.Objects.requireNonNull;

import ai.onnx.proto.OnnxMl.NodeProto;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Describes what a model is made of (its operators with their domains, and how many initializers), for errors
 * that say why a technique found nothing to compress.
 */
public final class ModelContents {
    private ModelContents() {
    }

    /**
     * For example {@code 4 nodes: LinearClassifier (domain ai.onnx.ml), Normalizer (domain ai.onnx.ml), Cast, Relu x2; 0 initializers}:
     * operator types in order of first appearance, a domain only when it is not the default one, a count when above one.
     */
    public static String describe(OnnxModel model) {
        requireNonNull(model, "model is null");
        Map<String, Integer> counts = new LinkedHashMap<>();
        for (NodeProto node : model.nodes()) {
            String domain = node.getDomain().isEmpty() || node.getDomain().equals("ai.onnx") ? "" : " (domain " + node.getDomain() + ")";
            counts.merge(node.getOpType() + domain, 1, Integer::sum);
        }
        StringBuilder text = new StringBuilder();
        text.append(model.nodes().size()).append(model.nodes().size() == 1 ? " node" : " nodes");
        String separator = ": ";
        for (Map.Entry<String, Integer> entry : counts.entrySet()) {
            text.append(separator).append(entry.getKey());
            if (entry.getValue() > 1) {
                text.append(" x").append(entry.getValue());
            }
            separator = ", ";
        }
        int initializers = model.graph().getInitializerCount() + model.graph().getSparseInitializerCount();
        text.append("; ").append(initializers).append(initializers == 1 ? " initializer" : " initializers");
        java.util.List<LayerSelection.Skipped> unhandled = LayerSelection.unhandled(model);
        if (!unhandled.isEmpty()) {
            text.append("; left alone: ").append(LayerSelection.reasons(unhandled));
        }
        return text.toString();
    }
}
