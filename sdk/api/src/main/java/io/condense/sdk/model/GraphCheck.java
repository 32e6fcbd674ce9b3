package io.condense.sdk.model;

import static java.util.Objects.requireNonNull;

import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.OperatorSetIdProto;
import ai.onnx.proto.OnnxMl.SparseTensorProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The structural rules of ONNX's checker that make a graph meaningless whatever runs it, checked on the main graph
 * before any technique reads it: every name a node reads is a graph input, an initializer or the output of a node
 * (anywhere in the graph: ONNX Runtime sorts nodes itself, so order alone is not reported), no name has two producers,
 * every graph output is produced, and the model imports an opset for every domain its nodes use. A model that breaks
 * one of them is invalid for ONNX's checker and for ONNX Runtime alike; naming the broken name up front beats a
 * failure in the middle of a job. Subgraphs (If, Loop, Scan bodies) may read names of the enclosing graph and are not
 * checked. Written by hand because no Java library implements ONNX's checker.
 */
public final class GraphCheck {
    private static final int MAX_PROBLEMS = 10;

    private GraphCheck() {
    }

    /** Every problem found (at most ten, then a count), empty for a structurally sound graph. */
    public static List<String> problems(ModelProto model) {
        requireNonNull(model, "model is null");
        List<String> problems = new ArrayList<>();
        Map<String, String> producers = producers(model.getGraph(), problems);
        problems.addAll(undefined(model.getGraph(), producers));
        Set<String> domains = new HashSet<>();
        for (OperatorSetIdProto opset : model.getOpsetImportList()) {
            domains.add(opset.getDomain().equals("ai.onnx") ? "" : opset.getDomain());
        }
        for (NodeProto node : model.getGraph().getNodeList()) {
            String domain = node.getDomain().equals("ai.onnx") ? "" : node.getDomain();
            if (domains.add(domain)) {
                problems.add("node " + describe(node) + " is of the domain '" + domain + "', which the model imports no opset of");
            }
        }
        return capped(problems);
    }

    /**
     * Only the names a node or the graph's outputs read that nothing provides: what every model {@link OnnxModel} holds
     * must pass (techniques build graphs of other domains before they add the opset import, so those rules wait for
     * {@link #problems}).
     */
    static List<String> undefinedNames(GraphProto graph) {
        return capped(undefined(graph, producers(graph, new ArrayList<>())));
    }

    /** The exception for a model with these problems. */
    public static CondenseException invalid(List<String> problems) {
        return new CondenseException(ErrorCode.INVALID_MODEL, "not a valid ONNX graph (ONNX's checker and ONNX Runtime refuse it "
                + "too): " + String.join("; ", problems) + ". Fix the model where it was exported; "
                + "onnx.checker.check_model(onnx.load(path)) shows the same in Python");
    }

    /** What provides each name: graph inputs, initializers, node outputs; a second producer of a name is a problem. */
    private static Map<String, String> producers(GraphProto graph, List<String> problems) {
        Map<String, String> producers = new HashMap<>();
        for (ValueInfoProto input : graph.getInputList()) {
            producers.putIfAbsent(input.getName(), "graph input");
        }
        for (TensorProto initializer : graph.getInitializerList()) {
            producers.putIfAbsent(initializer.getName(), "initializer");
        }
        for (SparseTensorProto sparse : graph.getSparseInitializerList()) {
            producers.putIfAbsent(sparse.getValues().getName(), "sparse initializer");
        }
        for (NodeProto node : graph.getNodeList()) {
            for (String output : node.getOutputList()) {
                if (output.isEmpty()) {
                    continue;
                }
                String earlier = producers.putIfAbsent(output, "node " + describe(node));
                if (earlier != null) {
                    problems.add("'" + output + "' is written by node " + describe(node) + " and already by " + earlier);
                }
            }
        }
        return producers;
    }

    private static List<String> undefined(GraphProto graph, Map<String, String> producers) {
        List<String> problems = new ArrayList<>();
        for (NodeProto node : graph.getNodeList()) {
            for (String input : node.getInputList()) {
                if (!input.isEmpty() && !producers.containsKey(input)) {
                    problems.add("node " + describe(node) + " reads '" + input + "', which no node, initializer or graph input provides");
                }
            }
        }
        for (ValueInfoProto output : graph.getOutputList()) {
            if (!producers.containsKey(output.getName())) {
                problems.add("graph output '" + output.getName() + "' is produced by no node, initializer or graph input");
            }
        }
        return problems;
    }

    private static List<String> capped(List<String> problems) {
        if (problems.size() <= MAX_PROBLEMS) {
            return problems;
        }
        List<String> capped = new ArrayList<>(problems.subList(0, MAX_PROBLEMS));
        capped.add("and " + (problems.size() - MAX_PROBLEMS) + " more");
        return capped;
    }

    /** A node as messages name it: its name, else its first output (what exporters name unnamed nodes by), and its op. */
    private static String describe(NodeProto node) {
        String name = !node.getName().isEmpty() ? node.getName() : node.getOutputCount() > 0 ? node.getOutput(0) : "";
        return (name.isEmpty() ? "" : "'" + name + "' ") + "(" + node.getOpType() + ")";
    }
}
