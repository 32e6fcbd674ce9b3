package io.condense.server.training;

import ai.djl.ndarray.NDArray;

/** One ONNX operator on NDArrays. Inputs absent in the node (empty names) are null. Returns the node's outputs in order (extra outputs may be omitted). */
@FunctionalInterface
interface Kernel {
    NDArray[] apply(ExecutionContext context, OnnxNode node, NDArray[] inputs);
}
