package io.condense.plugin.binarization;

import ai.onnx.proto.OnnxMl.NodeProto;
import io.condense.sdk.model.OnnxModel;
import java.util.LinkedHashMap;
import java.util.Map;

/** Describes what a model is made of, for errors that say why there is nothing to compress. */
final class ModelContents {
    private ModelContents() {
    }

    /** For example {@code 3 nodes: LinearClassifier (domain ai.onnx.ml), Normalizer (domain ai.onnx.ml), ZipMap (domain ai.onnx.ml); 0 initializers}. */
    static String describe(OnnxModel model) {
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
        return text.toString();
    }
}
