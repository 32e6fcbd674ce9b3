package io.condense.sdk.model;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.SparseTensorProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.Set;

/** Names that subgraphs (If, Loop, Scan bodies) read from the enclosing graph. */
final class GraphNames {
    private GraphNames() {
    }

    /** Values a graph attribute's subgraphs read but do not define themselves: they come from the outer scope. */
    static Set<String> outerReferences(AttributeProto attribute) {
        Set<String> outer = new LinkedHashSet<>();
        if (attribute.hasG()) {
            collect(attribute.getG(), outer);
        }
        for (GraphProto graph : attribute.getGraphsList()) {
            collect(graph, outer);
        }
        return outer;
    }

    private static void collect(GraphProto graph, Set<String> outer) {
        Set<String> defined = new HashSet<>();
        for (ValueInfoProto input : graph.getInputList()) {
            defined.add(input.getName());
        }
        for (TensorProto tensor : graph.getInitializerList()) {
            defined.add(tensor.getName());
        }
        for (SparseTensorProto tensor : graph.getSparseInitializerList()) {
            defined.add(tensor.getValues().getName());
        }
        for (NodeProto node : graph.getNodeList()) {
            defined.addAll(node.getOutputList());
        }
        for (NodeProto node : graph.getNodeList()) {
            for (String input : node.getInputList()) {
                if (!input.isEmpty() && !defined.contains(input)) {
                    outer.add(input);
                }
            }
            for (AttributeProto attribute : node.getAttributeList()) {
                for (String name : outerReferences(attribute)) {
                    if (!defined.contains(name)) {
                        outer.add(name);
                    }
                }
            }
        }
        for (ValueInfoProto output : graph.getOutputList()) {
            if (!defined.contains(output.getName())) {
                outer.add(output.getName());
            }
        }
    }

    /** Every value a node reads: its inputs and what its subgraphs read from outside. */
    static Set<String> reads(NodeProto node) {
        Set<String> names = new LinkedHashSet<>();
        for (String input : node.getInputList()) {
            if (!input.isEmpty()) {
                names.add(input);
            }
        }
        for (AttributeProto attribute : node.getAttributeList()) {
            names.addAll(outerReferences(attribute));
        }
        return names;
    }

    static boolean hasSubgraph(NodeProto node) {
        for (AttributeProto attribute : node.getAttributeList()) {
            if (attribute.hasG() || attribute.getGraphsCount() > 0) {
                return true;
            }
        }
        return false;
    }
}
