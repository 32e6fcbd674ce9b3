/**
 * Weights pushed by training systems: safetensors files, {@code .npz} archives of named arrays and whole ONNX models read
 * into named tensors ({@link WeightsFile}), and their merge into an ONNX graph with every tensor checked against it
 * ({@link WeightsMerge}).
 */
package io.condense.sdk.weights;
