package io.condense.sdk.model;

import ai.onnx.proto.OnnxMl.NodeProto;

/**
 * A Conv, ConvTranspose, Gemm or MatMul node whose weight is an initializer.
 *
 * @param node the node
 * @param nodeIndex the node's index in the graph
 * @param weightName the weight initializer (Conv input 1, Gemm input B, the constant MatMul operand)
 * @param biasName the bias initializer (Conv input 2, Gemm input C), or null
 * @param outputChannelAxis the weight axis along which output channels lie: 0 for Conv, 1 for ConvTranspose
 *     ([C_in, C_out / group, k...]), 0 for Gemm with transB=1, 1 for Gemm with transB=0, the last axis for MatMul with
 *     the weight as second operand and the one before the last with the weight as first operand
 * @param inputChannelAxis the weight axis of input features (1 for Conv, 0 for ConvTranspose; the other matrix axis
 *     for Gemm and MatMul)
 */
public record WeightLayer(NodeProto node, int nodeIndex, String weightName, String biasName, int outputChannelAxis, int inputChannelAxis) {

    public String opType() {
        return node.getOpType();
    }

    /** The node's name, or its first output when it has none. */
    public String displayName() {
        return node.getName().isEmpty() ? node.getOutput(0) : node.getName();
    }
}
