package io.condense.sdk.stats;

import static java.util.Objects.requireNonNull;

import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.SparseTensorProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import io.condense.sdk.model.NodeAttributes;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.tensor.DataType;
import io.condense.sdk.tensor.LargeTensor;
import io.condense.sdk.tensor.OnnxTypes;
import io.condense.sdk.tensor.Tensor;
import java.util.Collections;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Counts for a model: parameters (elements of every initializer, dense or sparse, and of the layer weights and biases
 * written as Constant nodes, as paddle2onnx and tf2onnx export them), non-zero parameters,
 * stored bytes by element type, the serialized size, and multiply-accumulates of Conv, Gemm and MatMul
 * nodes whose shapes are known (per node name too; unknown shapes count 0 and are listed).
 *
 * <p>Parameters count every initializer element whatever its type; non-zeros and bytes by type cover the
 * types Condense views ({@link DataType}); a sparse initializer's bytes are its values plus its indices
 * (counted under the values' type), and its non-zeros are its stored values that are not zero. MACs use
 * {@link ShapeInference}: Conv = output elements x (input channels / group) x kernel area, Gemm = M x N x K,
 * MatMul = batch x M x N x K. {@code macsByNode} is keyed by node name (or first output when unnamed); a
 * node whose shapes are unknown is listed with 0.
 */
public record ModelStats(
        long parameters,
        long nonZeroParameters,
        Map<DataType, Long> bytesByDataType,
        long serializedBytes,
        long macs,
        Map<String, Long> macsByNode) {

    public ModelStats {
        Map<DataType, Long> copy = new EnumMap<>(DataType.class);
        copy.putAll(requireNonNull(bytesByDataType, "bytesByDataType is null"));
        bytesByDataType = Collections.unmodifiableMap(copy);
        macsByNode = Collections.unmodifiableMap(new LinkedHashMap<>(requireNonNull(macsByNode, "macsByNode is null")));
    }

    public static ModelStats of(OnnxModel model) {
        requireNonNull(model, "model is null");
        GraphProto graph = model.graph();
        long parameters = 0;
        long nonZero = 0;
        Map<DataType, Long> bytes = new EnumMap<>(DataType.class);
        for (TensorProto tensor : graph.getInitializerList()) {
            long[] shape = dims(tensor.getDimsList());
            long elements = OnnxTypes.elementCount(tensor.getName(), shape);
            parameters += elements;
            if (DataType.isSupported(tensor.getDataType())) {
                DataType type = DataType.fromOnnx(tensor.getDataType());
                bytes.merge(type, type.byteSize(elements), Long::sum);
                nonZero += LargeTensor.isLarge(tensor) ? LargeTensor.of(tensor).countNonZero() : Tensor.fromProto(tensor).countNonZero();
            }
        }
        for (SparseTensorProto sparse : graph.getSparseInitializerList()) {
            TensorProto values = sparse.getValues();
            parameters += OnnxTypes.elementCount(values.getName(), dims(sparse.getDimsList()));
            if (DataType.isSupported(values.getDataType())) {
                DataType type = DataType.fromOnnx(values.getDataType());
                Tensor valueTensor = Tensor.fromProto(values);
                long indexBytes = 0;
                if (sparse.hasIndices()) {
                    long indexElements = OnnxTypes.elementCount(values.getName(), dims(sparse.getIndices().getDimsList()));
                    indexBytes = indexElements * Math.max(1, OnnxTypes.bits(sparse.getIndices().getDataType()) / 8);
                }
                bytes.merge(type, valueTensor.byteSize() + indexBytes, Long::sum);
                nonZero += valueTensor.countNonZero();
            }
        }
        // weights written as Constant nodes count as parameters too (shape constants and anchors do not)
        for (Tensor weight : constantWeights(model)) {
            parameters += weight.elementCount();
            bytes.merge(weight.dataType(), weight.byteSize(), Long::sum);
            nonZero += weight.countNonZero();
        }
        Map<String, Long> byNode = macsByNode(model);
        long macs = 0;
        for (long count : byNode.values()) {
            macs += count;
        }
        return new ModelStats(parameters, nonZero, bytes, model.serializedSize(), macs, byNode);
    }

    /**
     * The multiply-accumulates of each Conv, ConvTranspose, Gemm, MatMul and MatMulNBits node by shape inference, keyed by
     * node name (or first output when unnamed), without reading any weight: what {@link #of} reports as {@code macsByNode},
     * for callers that need only that.
     */
    public static Map<String, Long> macsByNode(OnnxModel model) {
        requireNonNull(model, "model is null");
        GraphProto graph = model.graph();
        ShapeInference shapes = ShapeInference.of(graph);
        Map<String, Long> byNode = new LinkedHashMap<>();
        for (NodeProto node : graph.getNodeList()) {
            if (ShapeInference.isMatMulNBits(node)) {
                // ONNX Runtime's weight-only int4 MatMul: each output element sums K products
                long count = shapes.shape(node.getOutput(0)).map(y -> ShapeInference.product(y, 0, y.length)).orElse(0L)
                        * NodeAttributes.getInt(node, "K", 0);
                byNode.merge(node.getName().isEmpty() ? node.getOutput(0) : node.getName(), count, Long::sum);
                continue;
            }
            if (!node.getDomain().isEmpty() && !node.getDomain().equals("ai.onnx")) {
                continue;
            }
            String op = node.getOpType();
            if (!op.equals("Conv") && !op.equals("ConvTranspose") && !op.equals("Gemm") && !op.equals("MatMul")) {
                continue;
            }
            long count = macs(node, shapes);
            String name = node.getName().isEmpty() ? node.getOutput(0) : node.getName();
            byNode.merge(name, count, Long::sum);
        }
        return byNode;
    }

    /** Multiply-accumulates of one Conv, ConvTranspose, Gemm or MatMul node, or 0 when its shapes are unknown. */
    static long macs(NodeProto node, ShapeInference shapes) {
        Optional<long[]> output = shapes.shape(node.getOutput(0));
        Optional<long[]> first = shapes.shape(node.getInput(0));
        Optional<long[]> second = node.getInputCount() > 1 ? shapes.shape(node.getInput(1)) : Optional.empty();
        if (output.isEmpty() || first.isEmpty() || second.isEmpty()) {
            return 0;
        }
        long[] y = output.get();
        long[] a = first.get();
        long[] b = second.get();
        switch (node.getOpType()) {
            case "Conv" -> {
                // each output element sums (input channels / group) x kernel area products; the weight is [M, C/group, k...]
                return ShapeInference.product(y, 0, y.length) * ShapeInference.product(b, 1, b.length);
            }
            case "ConvTranspose" -> {
                // each input element is scattered through (output channels / group) x kernel area products; weight [C, M/group, k...]
                return ShapeInference.product(a, 0, a.length) * ShapeInference.product(b, 1, b.length);
            }
            case "Gemm" -> {
                long k = NodeAttributes.getInt(node, "transA", 0) != 0 ? a[0] : a[a.length - 1];
                return ShapeInference.product(y, 0, y.length) * k;
            }
            default -> {
                long k = a[a.length - 1];
                return ShapeInference.product(y, 0, y.length) * k;
            }
        }
    }

    /**
     * The weights and biases of Conv, ConvTranspose, Gemm and MatMul layers that the model computes from Constant nodes
     * (paddle2onnx and tf2onnx write every weight that way), as {@code ModelEditor.foldConstants()} makes them; other
     * constants (shapes, anchors) are not parameters.
     */
    private static List<Tensor> constantWeights(OnnxModel model) {
        boolean constants = false;
        for (NodeProto node : model.nodes()) {
            constants |= node.getOpType().equals("Constant");
        }
        if (!constants) {
            return List.of();
        }
        OnnxModel folded = model.edit().foldConstants().build();
        java.util.Set<String> names = new java.util.LinkedHashSet<>();
        for (io.condense.sdk.model.WeightLayer layer : folded.weightLayers()) {
            names.add(layer.weightName());
            if (layer.biasName() != null) {
                names.add(layer.biasName());
            }
        }
        List<Tensor> weights = new java.util.ArrayList<>();
        for (String name : names) {
            if (!model.isInitializer(name) && folded.initializer(name).isPresent()
                    && DataType.isSupported(folded.initializer(name).get().getDataType())) {
                weights.add(folded.tensor(name));
            }
        }
        return weights;
    }

    private static long[] dims(List<Long> list) {
        long[] shape = new long[list.size()];
        for (int i = 0; i < shape.length; i++) {
            shape[i] = list.get(i);
        }
        return shape;
    }
}
