package io.condense.plugin.quantization;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.FunctionProto;
import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.OperatorSetIdProto;
import ai.onnx.proto.OnnxMl.SparseTensorProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnx.proto.OnnxMl.TypeProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.tensor.DataType;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A float model and its quantized copy in one graph that returns, for each measured value, the sums ONNX Runtime computes
 * of the float value's squares and of the squared difference between the two models' values ({@code ReduceSumSquare}),
 * and the value's element count: the per-layer SQNR's terms, without either model's activations leaving the runtime.
 * Running the two models as separate sessions copied every measured activation of both into the Java heap (MobileNetV2:
 * about 50 MB a sample), where the collector then grew the heap.
 *
 * <p>The quantized copy's names (values, initializers, nodes, and those of nested graphs) are prefixed with
 * {@link #QUANTIZED}; both copies read the same graph inputs. The float model is brought to the quantized model's
 * default-domain opset first (quantization may have raised it), so that one opset serves both.
 */
final class SqnrGraph {
    static final String QUANTIZED = "condense.quantized/";
    static final String SIGNAL = "condense.sqnr.signal/";
    static final String NOISE = "condense.sqnr.noise/";
    static final String SIZE = "condense.sqnr.size/";
    private static final String DIFFERENCE = "condense.sqnr.difference/";

    private final OnnxModel model;
    private final List<String> measured;
    private final Set<String> inputs;

    private SqnrGraph(OnnxModel model, List<String> measured, Set<String> inputs) {
        this.model = model;
        this.measured = measured;
        this.inputs = inputs;
    }

    /** The merged model: the float model's graph outputs named in {@code floatOutputs} are kept as outputs too. */
    OnnxModel model() {
        return model;
    }

    /** The values the model measures: those of {@code values} that both models compute or read. */
    List<String> measured() {
        return measured;
    }

    /** True for a measured value that is a graph input, the same in both models: its noise is zero and not computed. */
    boolean isInput(String value) {
        return inputs.contains(value);
    }

    static SqnrGraph of(OnnxModel reference, OnnxModel quantized, Collection<String> values, Collection<String> floatOutputs) {
        long opset = quantized.opsetVersion("").orElse(0L);
        if (reference.opsetVersion("").orElse(0L) < opset) {
            reference = reference.edit().requireOpset("", opset).build();
        }
        Set<String> shared = new HashSet<>();
        for (ValueInfoProto input : quantized.inputs()) {
            shared.add(input.getName());
        }
        ModelProto.Builder proto = reference.proto().toBuilder();
        GraphProto.Builder graph = proto.getGraphBuilder();
        graph.clearOutput();
        for (ValueInfoProto output : reference.outputs()) {
            if (floatOutputs.contains(output.getName())) {
                graph.addOutput(output);
            }
        }
        GraphProto copy = renamed(quantized.graph(), shared);
        graph.addAllNode(copy.getNodeList());
        graph.addAllInitializer(copy.getInitializerList());
        graph.addAllSparseInitializer(copy.getSparseInitializerList());
        graph.addAllValueInfo(copy.getValueInfoList());

        Map<String, Long> opsets = new LinkedHashMap<>();
        for (OperatorSetIdProto import_ : proto.getOpsetImportList()) {
            opsets.merge(import_.getDomain(), import_.getVersion(), Math::max);
        }
        for (OperatorSetIdProto import_ : quantized.proto().getOpsetImportList()) {
            opsets.merge(import_.getDomain(), import_.getVersion(), Math::max);
        }
        proto.clearOpsetImport();
        opsets.forEach((domain, version) -> proto.addOpsetImport(OperatorSetIdProto.newBuilder().setDomain(domain).setVersion(version)));
        proto.setIrVersion(Math.max(proto.getIrVersion(), quantized.proto().getIrVersion()));
        Set<String> functions = new HashSet<>();
        for (FunctionProto function : proto.getFunctionsList()) {
            functions.add(function.getDomain() + ":" + function.getName());
        }
        for (FunctionProto function : quantized.proto().getFunctionsList()) {
            if (functions.add(function.getDomain() + ":" + function.getName())) {
                proto.addFunctions(function);
            }
        }

        List<String> measured = new ArrayList<>();
        Set<String> inputs = new HashSet<>();
        for (String value : values) {
            boolean input = shared.contains(value);
            if (!input && (reference.producer(value).isEmpty() || quantized.producer(value).isEmpty())) {
                continue;
            }
            measured.add(value);
            graph.addNode(reduction(value, SIGNAL + value));
            graph.addOutput(scalar(SIGNAL + value, DataType.FLOAT));
            if (input) {
                inputs.add(value);
                continue;
            }
            graph.addNode(NodeProto.newBuilder().setOpType("Sub").setName(DIFFERENCE + value).addInput(value)
                    .addInput(QUANTIZED + value).addOutput(DIFFERENCE + value));
            graph.addNode(reduction(DIFFERENCE + value, NOISE + value));
            graph.addOutput(scalar(NOISE + value, DataType.FLOAT));
            graph.addNode(NodeProto.newBuilder().setOpType("Size").setName(SIZE + value).addInput(value).addOutput(SIZE + value));
            graph.addOutput(scalar(SIZE + value, DataType.INT64));
        }
        if (graph.getOutputCount() == 0) {
            // nothing to measure (no value in both models, no float output asked for): still a valid graph
            graph.addOutput(reference.outputs().get(0));
        }
        return new SqnrGraph(OnnxModel.of(proto.build()), List.copyOf(measured), Set.copyOf(inputs));
    }

    private static NodeProto reduction(String input, String output) {
        // no axes: every axis, at every opset (ReduceSumSquare-18 takes axes as an optional input)
        return NodeProto.newBuilder().setOpType("ReduceSumSquare").setName(output).addInput(input).addOutput(output)
                .addAttribute(AttributeProto.newBuilder().setName("keepdims").setType(AttributeProto.AttributeType.INT).setI(0))
                .build();
    }

    private static ValueInfoProto scalar(String name, DataType type) {
        return ValueInfoProto.newBuilder().setName(name).setType(TypeProto.newBuilder()
                .setTensorType(TypeProto.Tensor.newBuilder().setElemType(type.onnxCode()))).build();
    }

    /** The graph with every name but those of {@code shared} (and the empty name of an absent input) prefixed, nested graphs too. */
    private static GraphProto renamed(GraphProto graph, Set<String> shared) {
        GraphProto.Builder builder = graph.toBuilder();
        builder.setName(QUANTIZED + graph.getName());
        builder.clearInput();
        for (ValueInfoProto input : graph.getInputList()) {
            builder.addInput(input.toBuilder().setName(name(input.getName(), shared)));
        }
        builder.clearOutput();
        for (ValueInfoProto output : graph.getOutputList()) {
            builder.addOutput(output.toBuilder().setName(name(output.getName(), shared)));
        }
        builder.clearValueInfo();
        for (ValueInfoProto info : graph.getValueInfoList()) {
            builder.addValueInfo(info.toBuilder().setName(name(info.getName(), shared)));
        }
        builder.clearInitializer();
        for (TensorProto tensor : graph.getInitializerList()) {
            builder.addInitializer(tensor.toBuilder().setName(name(tensor.getName(), shared)));
        }
        builder.clearSparseInitializer();
        for (SparseTensorProto sparse : graph.getSparseInitializerList()) {
            SparseTensorProto.Builder renamed = sparse.toBuilder();
            renamed.setValues(sparse.getValues().toBuilder().setName(name(sparse.getValues().getName(), shared)));
            if (sparse.hasIndices() && !sparse.getIndices().getName().isEmpty()) {
                renamed.setIndices(sparse.getIndices().toBuilder().setName(name(sparse.getIndices().getName(), shared)));
            }
            builder.addSparseInitializer(renamed);
        }
        builder.clearNode();
        for (NodeProto node : graph.getNodeList()) {
            NodeProto.Builder renamed = node.toBuilder().clearInput().clearOutput().clearAttribute();
            if (!node.getName().isEmpty()) {
                renamed.setName(QUANTIZED + node.getName());
            }
            for (String input : node.getInputList()) {
                renamed.addInput(name(input, shared));
            }
            for (String output : node.getOutputList()) {
                renamed.addOutput(name(output, shared));
            }
            for (AttributeProto attribute : node.getAttributeList()) {
                if (attribute.hasG() || attribute.getGraphsCount() > 0) {
                    AttributeProto.Builder nested = attribute.toBuilder();
                    if (attribute.hasG()) {
                        nested.setG(renamed(attribute.getG(), shared));
                    }
                    nested.clearGraphs();
                    for (GraphProto body : attribute.getGraphsList()) {
                        nested.addGraphs(renamed(body, shared));
                    }
                    renamed.addAttribute(nested);
                } else {
                    renamed.addAttribute(attribute);
                }
            }
            builder.addNode(renamed);
        }
        return builder.build();
    }

    private static String name(String name, Set<String> shared) {
        return name.isEmpty() || shared.contains(name) ? name : QUANTIZED + name;
    }
}
