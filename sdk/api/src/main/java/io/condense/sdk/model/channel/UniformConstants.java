package io.condense.sdk.model.channel;

import ai.onnx.proto.OnnxMl.NodeProto;
import io.condense.sdk.model.ModelEditor;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.stats.ShapeInference;
import io.condense.sdk.tensor.Tensor;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * Folds Reshape, Unsqueeze, Squeeze, Flatten and Identity of a {@code ConstantOfShape} into one {@code ConstantOfShape}
 * of the final shape (every element is the same fill value, so nothing changes): the onnx_light models make their
 * BatchNormalization multipliers and classifier weights that way, and the folded form can be sliced by channel.
 */
final class UniformConstants {
    private static final Set<String> RESHAPING = Set.of("Reshape", "Unsqueeze", "Squeeze", "Flatten", "Identity");

    private UniformConstants() {
    }

    static OnnxModel fold(OnnxModel model) {
        OnnxModel current = model;
        while (true) {
            OnnxModel next = foldOnce(current);
            if (next == current) {
                return current;
            }
            current = next;
        }
    }

    private static OnnxModel foldOnce(OnnxModel model) {
        List<NodeProto> nodes = model.nodes();
        ShapeInference shapes = null;
        ModelEditor editor = null;
        for (int i = 0; i < nodes.size(); i++) {
            NodeProto node = nodes.get(i);
            if (!RESHAPING.contains(node.getOpType()) || !(node.getDomain().isEmpty() || node.getDomain().equals("ai.onnx"))
                    || node.getInputCount() == 0 || node.getOutputCount() != 1) {
                continue;
            }
            String data = node.getInput(0);
            int producerIndex = model.producerIndex(data);
            if (producerIndex < 0 || !nodes.get(producerIndex).getOpType().equals("ConstantOfShape")
                    || model.consumers(data).size() != 1 || model.outputs().stream().anyMatch(output -> output.getName().equals(data))) {
                continue;
            }
            if (shapes == null) {
                shapes = ShapeInference.of(model);
                editor = model.edit();
            }
            Optional<long[]> shape = shapes.shape(node.getOutput(0));
            if (shape.isEmpty() || Arrays.stream(shape.get()).anyMatch(dim -> dim < 0)) {
                continue;
            }
            String shapeName = editor.uniqueName(node.getOutput(0) + "_shape");
            editor.putInitializer(Tensor.fromLongs(shapeName, new long[] {shape.get().length}, shape.get()).toProto());
            NodeProto producer = nodes.get(producerIndex);
            editor.replaceNode(i, NodeProto.newBuilder().setName(node.getName()).setOpType("ConstantOfShape").addInput(shapeName)
                    .addOutput(node.getOutput(0)).addAllAttribute(producer.getAttributeList()).build());
            editor.removeNode(producerIndex);
        }
        return editor == null ? model : editor.build();
    }
}
