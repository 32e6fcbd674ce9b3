package io.condense.plugin.quantization;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.model.ModelEditor;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.tensor.DataType;
import io.condense.sdk.tensor.Tensor;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The whole graph in float16 ({@code dtype=fp16, scope=graph}) with float32 inputs and outputs kept: every node of a known
 * type-preserving op (Conv, Gemm, MatMul, the element-wise, activation, pooling, normalization and layout ops listed in
 * {@link #HALF_OPS}) whose float inputs are all known float tensors runs in float16; its float initializers are stored as
 * float16. Other nodes stay float32. Where a value crosses between the two a {@code Cast} is inserted (once per value and
 * direction): after each float32 graph input, before each graph output (the producer writes {@code <output>_fp16}), and around
 * the nodes kept in float32. ONNX Runtime's CPU provider has no float16 kernel for many of these ops and inserts its own casts
 * around them at load time; the model is still half the size and runs as written on providers with float16 kernels.
 */
final class HalfPrecisionGraph {
    /** Ops whose float outputs have the type of their float inputs, valid in float16 since their first opset. */
    static final Set<String> HALF_OPS = Set.of("Conv", "ConvTranspose", "Gemm", "MatMul", "Add", "Sub", "Mul", "Div", "Relu", "LeakyRelu",
            "Sigmoid", "Tanh", "Exp", "Sqrt", "Abs", "Neg", "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool",
            "BatchNormalization", "Concat", "Reshape", "Flatten", "Transpose", "Squeeze", "Unsqueeze", "Slice", "Split", "Identity",
            "Softmax", "LogSoftmax", "Dropout");

    private HalfPrecisionGraph() {
    }

    record Outcome(OnnxModel model, int nodesHalf, int nodesFloat, List<String> floatOps, int casts, long initializerBytesBefore,
            long initializerBytesAfter) {
    }

    static Outcome apply(OnnxModel source) {
        List<NodeProto> nodes = source.nodes();
        Set<String> floatValues = new HashSet<>();
        Set<String> graphOutputs = new HashSet<>();
        for (ValueInfoProto output : source.outputs()) {
            graphOutputs.add(output.getName());
        }
        for (ValueInfoProto input : source.inputs()) {
            if (input.getType().getTensorType().getElemType() == TensorProto.DataType.FLOAT_VALUE) {
                floatValues.add(input.getName());
            }
        }
        Map<String, TensorProto> initializers = new HashMap<>();
        for (TensorProto tensor : source.graph().getInitializerList()) {
            initializers.put(tensor.getName(), tensor);
            if (tensor.getDataType() == TensorProto.DataType.FLOAT_VALUE) {
                floatValues.add(tensor.getName());
            }
        }
        // which nodes run in float16: decided in graph order, so every input's type is known when its reader is decided
        Set<String> halfValues = new HashSet<>();
        boolean[] half = new boolean[nodes.size()];
        Map<String, Integer> floatOpCounts = new LinkedHashMap<>();
        for (int i = 0; i < nodes.size(); i++) {
            NodeProto node = nodes.get(i);
            boolean defaultDomain = node.getDomain().isEmpty() || node.getDomain().equals("ai.onnx");
            boolean anyFloat = false;
            boolean known = true;
            for (int input = 0; input < node.getInputCount(); input++) {
                String name = node.getInput(input);
                if (name.isEmpty() || integerInput(node.getOpType(), input)) {
                    continue;
                }
                if (floatValues.contains(name) || halfValues.contains(name)) {
                    anyFloat = true;
                } else if (!isIntegerConstant(name, initializers)) {
                    known = false; // produced by a node kept as it is: its type is not tracked
                }
            }
            half[i] = defaultDomain && known && anyFloat && HALF_OPS.contains(node.getOpType()) && floatDataInputs(node, initializers);
            if (node.getOpType().equals("Constant")) {
                for (AttributeProto attribute : node.getAttributeList()) {
                    if (attribute.getName().equals("value") && attribute.hasT()
                            && attribute.getT().getDataType() == TensorProto.DataType.FLOAT_VALUE) {
                        floatValues.add(node.getOutput(0));
                    }
                }
            }
            if (half[i]) {
                for (String output : node.getOutputList()) {
                    if (!output.isEmpty()) {
                        halfValues.add(output);
                    }
                }
            } else {
                floatOpCounts.merge(node.getOpType(), 1, Integer::sum);
                if (anyFloat && preservesType(node.getOpType())) {
                    for (String output : node.getOutputList()) {
                        floatValues.add(output);
                    }
                }
            }
        }
        ModelEditor editor = source.edit();
        // graph outputs written in float16 get a new name; the Cast back to float32 writes the output's own name
        Map<String, String> outputHalfNames = new HashMap<>();
        for (String output : graphOutputs) {
            if (halfValues.contains(output)) {
                outputHalfNames.put(output, editor.uniqueName(output + "_fp16"));
            }
        }
        Map<String, String> halfNames = new HashMap<>();
        Map<String, String> floatNames = new HashMap<>();
        int[] casts = {0};
        long bytesBefore = 0;
        long bytesAfter = 0;
        for (int i = 0; i < nodes.size(); i++) {
            NodeProto node = nodes.get(i);
            NodeProto.Builder changed = node.toBuilder();
            for (int input = 0; input < node.getInputCount(); input++) {
                String name = node.getInput(input);
                if (name.isEmpty()) {
                    continue;
                }
                if (half[i] && floatValues.contains(name)) {
                    TensorProto initializer = initializers.get(name);
                    String converted;
                    if (initializer != null && !halfNames.containsKey(name)) {
                        converted = editor.uniqueName(name + "_fp16");
                        editor.putInitializer(toHalf(initializer, converted));
                        bytesBefore += 4L * Tensor.fromProto(initializer).elementCount();
                        bytesAfter += 2L * Tensor.fromProto(initializer).elementCount();
                        halfNames.put(name, converted);
                    }
                    changed.setInput(input, halfNames.computeIfAbsent(name, value -> cast(editor, value, "_fp16", DataType.FLOAT16, casts)));
                } else if (half[i] && outputHalfNames.containsKey(name)) {
                    changed.setInput(input, outputHalfNames.get(name));
                } else if (!half[i] && halfValues.contains(name) && !outputHalfNames.containsKey(name)) {
                    // (a graph output is float32 already under its own name, through the Cast added below)
                    changed.setInput(input, floatNames.computeIfAbsent(name, value -> cast(editor, value, "_float32", DataType.FLOAT, casts)));
                }
            }
            if (half[i]) {
                for (int output = 0; output < node.getOutputCount(); output++) {
                    String name = node.getOutput(output);
                    if (outputHalfNames.containsKey(name)) {
                        changed.setOutput(output, outputHalfNames.get(name));
                    }
                }
            }
            editor.replaceNode(i, changed.build());
        }
        for (Map.Entry<String, String> output : outputHalfNames.entrySet()) {
            editor.addNode(castNode(editor, output.getValue(), output.getKey(), DataType.FLOAT));
            casts[0]++;
        }
        // value_info entries still say float32 for values that are now float16: drop them all (they are optional)
        ModelProto.Builder builder = editor.build().proto().toBuilder();
        builder.getGraphBuilder().clearValueInfo();
        OnnxModel result = OnnxModel.of(builder.build());
        int halfCount = 0;
        for (boolean h : half) {
            halfCount += h ? 1 : 0;
        }
        if (halfCount == 0) {
            throw new CondenseException(ErrorCode.NOTHING_TO_COMPRESS, "nothing to convert to float16: no node of the model is one of "
                    + "the ops converted (" + String.join(", ", HALF_OPS) + ") with float inputs");
        }
        return new Outcome(result, halfCount, nodes.size() - halfCount,
                floatOpCounts.entrySet().stream().map(e -> e.getKey() + " " + e.getValue()).toList(), casts[0], bytesBefore, bytesAfter);
    }

    /** Inputs the operator defines as int64 (shapes, axes, starts, split sizes), whatever produces them. */
    private static boolean integerInput(String op, int input) {
        return switch (op) {
            case "Reshape", "Squeeze", "Unsqueeze", "Split" -> input == 1;
            case "Slice" -> input >= 1;
            default -> false;
        };
    }

    /** Whether an op kept in float32 gives float outputs for float inputs (so float16 readers need a Cast of them). */
    private static boolean preservesType(String op) {
        return HALF_OPS.contains(op) || Set.of("Resize", "Upsample", "Pad", "Clip", "ReduceMean", "ReduceSum", "Pow", "Erf", "Where",
                "Expand", "Tile", "Gather", "Max", "Min", "Sum", "Mean", "InstanceNormalization", "LayerNormalization", "Log").contains(op);
    }

    /** Whether every initializer input of a node that is not float is an integer (shape, axes, indices), never another type. */
    private static boolean floatDataInputs(NodeProto node, Map<String, TensorProto> initializers) {
        for (String input : node.getInputList()) {
            TensorProto tensor = initializers.get(input);
            if (tensor != null && tensor.getDataType() != TensorProto.DataType.FLOAT_VALUE && !isIntegerConstant(input, initializers)) {
                return false;
            }
        }
        return true;
    }

    private static boolean isIntegerConstant(String name, Map<String, TensorProto> initializers) {
        TensorProto tensor = initializers.get(name);
        return tensor != null && (tensor.getDataType() == TensorProto.DataType.INT64_VALUE
                || tensor.getDataType() == TensorProto.DataType.INT32_VALUE);
    }

    private static String cast(ModelEditor editor, String value, String suffix, DataType to, int[] casts) {
        String output = editor.uniqueName(value + suffix);
        editor.addNode(castNode(editor, value, output, to));
        casts[0]++;
        return output;
    }

    /** A {@code Cast(to)} from {@code input} to {@code output}, named after its output. */
    static NodeProto castNode(ModelEditor editor, String input, String output, DataType to) {
        return NodeProto.newBuilder().setOpType("Cast").setName(editor.uniqueName(output + "_Cast")).addInput(input).addOutput(output)
                .addAttribute(AttributeProto.newBuilder().setName("to").setType(AttributeProto.AttributeType.INT).setI(to.onnxCode()))
                .build();
    }

    private static TensorProto toHalf(TensorProto tensor, String name) {
        long[] shape = tensor.getDimsList().stream().mapToLong(Long::longValue).toArray();
        return Tensor.fromFloats(name, DataType.FLOAT16, shape, Tensor.fromProto(tensor).toFloatArray()).toProto();
    }
}
