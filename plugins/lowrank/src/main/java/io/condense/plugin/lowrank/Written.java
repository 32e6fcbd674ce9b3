package io.condense.plugin.lowrank;

import java.util.List;

/**
 * What writing one factorised layer added to the graph.
 *
 * @param nodes the names of the new nodes, in execution order (the last one keeps the original node's name and outputs)
 * @param extraParameters parameters written besides the factors (the zero C a Gemm needs before opset 11)
 */
record Written(List<String> nodes, long extraParameters) {
    Written {
        nodes = List.copyOf(nodes);
    }
}
