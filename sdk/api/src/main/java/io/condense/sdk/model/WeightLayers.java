package io.condense.sdk.model;

import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;
import java.util.function.ToIntFunction;

/** Finds the Conv, ConvTranspose, Gemm and MatMul nodes whose weights are initializers (see {@link OnnxModel#weightLayers()}). */
final class WeightLayers {
    private WeightLayers() {
    }

    static List<WeightLayer> find(GraphProto graph, Predicate<String> isInitializer, ToIntFunction<String> rank) {
        List<WeightLayer> layers = new ArrayList<>();
        for (int i = 0; i < graph.getNodeCount(); i++) {
            NodeProto node = graph.getNode(i);
            if (!node.getDomain().isEmpty() && !node.getDomain().equals("ai.onnx")) {
                continue;
            }
            switch (node.getOpType()) {
                case "Conv" -> {
                    if (node.getInputCount() >= 2 && isInitializer.test(node.getInput(1)) && rank.applyAsInt(node.getInput(1)) >= 3) {
                        layers.add(new WeightLayer(node, i, node.getInput(1), bias(node, 2, isInitializer), 0, 1));
                    }
                }
                case "ConvTranspose" -> {
                    // weight [C_in, C_out / group, k...]: output channels on axis 1
                    if (node.getInputCount() >= 2 && isInitializer.test(node.getInput(1)) && rank.applyAsInt(node.getInput(1)) >= 3) {
                        layers.add(new WeightLayer(node, i, node.getInput(1), bias(node, 2, isInitializer), 1, 0));
                    }
                }
                case "Gemm" -> {
                    if (node.getInputCount() >= 2 && isInitializer.test(node.getInput(1)) && rank.applyAsInt(node.getInput(1)) == 2) {
                        boolean transposed = NodeAttributes.getInt(node, "transB", 0) != 0;
                        layers.add(new WeightLayer(node, i, node.getInput(1), bias(node, 2, isInitializer),
                                transposed ? 0 : 1, transposed ? 1 : 0));
                    }
                }
                case "MatMul" -> {
                    // batched weights [..., K, N] (second operand) or [..., M, K] (first): the last two axes are the matrix
                    if (node.getInputCount() == 2) {
                        int right = isInitializer.test(node.getInput(1)) ? rank.applyAsInt(node.getInput(1)) : -1;
                        int left = isInitializer.test(node.getInput(0)) ? rank.applyAsInt(node.getInput(0)) : -1;
                        if (right >= 2) {
                            layers.add(new WeightLayer(node, i, node.getInput(1), null, right - 1, right - 2));
                        } else if (left >= 2) {
                            layers.add(new WeightLayer(node, i, node.getInput(0), null, left - 2, left - 1));
                        }
                    }
                }
                default -> {
                    // not a weight layer
                }
            }
        }
        return layers;
    }

    private static String bias(NodeProto node, int position, Predicate<String> isInitializer) {
        if (node.getInputCount() > position) {
            String name = node.getInput(position);
            if (!name.isEmpty() && isInitializer.test(name)) {
                return name;
            }
        }
        return null;
    }
}
