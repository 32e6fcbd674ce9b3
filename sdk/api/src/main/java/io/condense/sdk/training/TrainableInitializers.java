package io.condense.sdk.training;

import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import io.condense.sdk.model.OnnxModel;
import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * The initializers a {@link TrainingRequest} trains when it names none: every float32 initializer never read in a
 * structural position (a shape, a batch-normalization running statistic, a quantization scale or zero point, a Clip
 * bound, a Dropout ratio, axes, slice bounds, Gather indices or a gradient's scale factor). One definition for the host's trainer and for the
 * techniques that prepare a training graph.
 */
public final class TrainableInitializers {
    /** Inputs of these operators at these positions are constants of the graph's structure, never weights. */
    private static final Map<String, Set<Integer>> STRUCTURAL_INPUTS = Map.ofEntries(
            Map.entry("BatchNormalization", Set.of(3, 4)),
            Map.entry("QuantizeLinear", Set.of(1, 2)),
            Map.entry("DequantizeLinear", Set.of(1, 2)),
            Map.entry("Clip", Set.of(1, 2)),
            Map.entry("Dropout", Set.of(1, 2)),
            Map.entry("Reshape", Set.of(1)),
            Map.entry("Slice", Set.of(1, 2, 3, 4)),
            Map.entry("Unsqueeze", Set.of(1)),
            Map.entry("Squeeze", Set.of(1)),
            Map.entry("Gather", Set.of(1)),
            Map.entry(TrainingOperators.SCALED_GRADIENT, Set.of(1)));

    private TrainableInitializers() {
    }

    /** The default trainable set of the model, sorted by name. */
    public static Set<String> defaults(OnnxModel model) {
        Set<String> structural = new LinkedHashSet<>();
        for (NodeProto node : model.nodes()) {
            for (int position : STRUCTURAL_INPUTS.getOrDefault(node.getOpType(), Set.of())) {
                if (position < node.getInputCount()) {
                    structural.add(node.getInput(position));
                }
            }
        }
        Set<String> trainable = new TreeSet<>();
        for (TensorProto initializer : model.graph().getInitializerList()) {
            if (initializer.getDataType() == TensorProto.DataType.FLOAT_VALUE && !structural.contains(initializer.getName())) {
                trainable.add(initializer.getName());
            }
        }
        return Collections.unmodifiableSet(trainable);
    }
}
