package io.condense.plugin.binarization;

import static java.util.Objects.requireNonNull;

import ai.onnx.proto.OnnxMl.NodeProto;
import io.condense.sdk.model.InitializerInfo;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.model.WeightLayer;
import io.condense.sdk.tensor.DataType;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Which weights get low-bit levels: every float32 weight of the Conv, Gemm and MatMul layers, minus those
 * excluded by name pattern, by size, or (with {@code keep_first_last}) because a layer is a first or a last
 * one. A weight shared by several layers is one candidate, skipped when any of its layers is.
 *
 * <p>First layers are those with no weight layer upstream of them (they see the model's input through
 * weight-free operators only); last layers are those with no weight layer downstream (their output reaches
 * a model output through weight-free operators only). A chain has one of each; a detector with several heads
 * has several last layers.
 *
 * <p>Patterns are globs ({@code *} any run of characters, {@code ?} one character) matched against the whole
 * node name, the node's first output and the weight initializer's name; {@code regex:} starts a Java regular
 * expression matched the same way.
 */
final class LayerSelection {

    /** A weight to replace, with the layers that read it. */
    record Candidate(String weightName, List<WeightLayer> layers, long[] shape, int outputChannelAxis) {
        Candidate {
            requireNonNull(weightName, "weightName is null");
            layers = List.copyOf(requireNonNull(layers, "layers is null"));
            shape = requireNonNull(shape, "shape is null").clone();
        }

        @Override
        public long[] shape() {
            return shape.clone();
        }

        String layerNames() {
            return LayerSelection.layerNames(layers);
        }

        String opTypes() {
            return LayerSelection.opTypes(layers);
        }
    }

    /** A weight left in float, and why. */
    record Skipped(String weightName, String layerNames, String opTypes, String reason, boolean firstOrLast) {
        Skipped {
            requireNonNull(weightName, "weightName is null");
            requireNonNull(layerNames, "layerNames is null");
            requireNonNull(opTypes, "opTypes is null");
            requireNonNull(reason, "reason is null");
        }

        Map<String, Object> toReport() {
            Map<String, Object> entry = new LinkedHashMap<>();
            entry.put("name", layerNames);
            entry.put("op", opTypes);
            entry.put("weight", weightName);
            entry.put("reason", reason);
            return entry;
        }
    }

    record Result(List<Candidate> candidates, List<Skipped> skipped) {
        Result {
            candidates = List.copyOf(candidates);
            skipped = List.copyOf(skipped);
        }
    }

    private final List<String> patterns;
    private final List<Pattern> compiled;
    private final long minElements;
    private final boolean keepFirstLast;

    LayerSelection(List<String> patterns, long minElements, boolean keepFirstLast) {
        this.patterns = List.copyOf(requireNonNull(patterns, "patterns is null"));
        this.compiled = new ArrayList<>(this.patterns.size());
        for (String pattern : this.patterns) {
            compiled.add(compile(pattern));
        }
        this.minElements = minElements;
        this.keepFirstLast = keepFirstLast;
    }

    /** Compiles one exclude pattern; {@link #problem(String)} says why one cannot be compiled. */
    static Pattern compile(String pattern) {
        if (pattern.startsWith("regex:")) {
            return Pattern.compile(pattern.substring("regex:".length()));
        }
        StringBuilder regex = new StringBuilder();
        StringBuilder literal = new StringBuilder();
        for (int i = 0; i < pattern.length(); i++) {
            char c = pattern.charAt(i);
            if (c == '*' || c == '?') {
                if (literal.length() > 0) {
                    regex.append(Pattern.quote(literal.toString()));
                    literal.setLength(0);
                }
                regex.append(c == '*' ? ".*" : ".");
            } else {
                literal.append(c);
            }
        }
        if (literal.length() > 0) {
            regex.append(Pattern.quote(literal.toString()));
        }
        return Pattern.compile(regex.toString());
    }

    /** Why a pattern cannot be used, or null when it can. */
    static String problem(String pattern) {
        try {
            compile(pattern);
            return null;
        } catch (IllegalArgumentException e) {
            return "'" + pattern + "' is not a valid regular expression: " + e.getMessage().lines().findFirst().orElse("");
        }
    }

    Result select(OnnxModel model, List<WeightLayer> layers) {
        Map<String, InitializerInfo> infos = new HashMap<>();
        for (InitializerInfo info : model.initializers()) {
            infos.put(info.name(), info);
        }
        Set<Integer> firstOrLast = firstAndLastLayers(model.nodes(), layers);
        Map<String, List<WeightLayer>> byWeight = new LinkedHashMap<>();
        for (WeightLayer layer : layers) {
            byWeight.computeIfAbsent(layer.weightName(), name -> new ArrayList<>()).add(layer);
        }
        List<Candidate> candidates = new ArrayList<>();
        List<Skipped> skipped = new ArrayList<>();
        for (Map.Entry<String, List<WeightLayer>> entry : byWeight.entrySet()) {
            String weight = entry.getKey();
            List<WeightLayer> readers = entry.getValue();
            String reason = exclusion(weight, readers);
            boolean edge = false;
            if (reason == null && keepFirstLast) {
                for (WeightLayer layer : readers) {
                    edge |= firstOrLast.contains(layer.nodeIndex());
                }
                if (edge) {
                    reason = "it is a first or last weight layer, kept in float as the binary-network papers do (keep_first_last=true)";
                }
            }
            InitializerInfo info = infos.get(weight);
            if (reason == null && (info == null || info.sparse())) {
                reason = "its weight is not a dense initializer";
            }
            if (reason == null && info.dataType() != DataType.FLOAT) {
                reason = "its weight is " + info.dataType().name().toLowerCase(Locale.ROOT) + ", not float32";
            }
            if (reason == null && info.elements() < minElements) {
                reason = "it has " + info.elements() + " weights, fewer than min_elements=" + minElements;
            }
            if (reason == null && info.elements() > Integer.MAX_VALUE - 8) {
                reason = "it has " + info.elements() + " weights, more than the 2^31 - 9 Condense handles per tensor";
            }
            int axis = readers.get(0).outputChannelAxis();
            if (reason == null) {
                for (WeightLayer layer : readers) {
                    if (layer.outputChannelAxis() != axis) {
                        reason = "its layers read it with output channels on different axes";
                    }
                }
            }
            if (reason == null && (info.shape().length == 0 || axis >= info.shape().length || info.elements() == 0)) {
                reason = "its weight of shape " + Arrays.toString(info.shape()) + " has no output-channel axis " + axis;
            }
            if (reason != null) {
                skipped.add(new Skipped(weight, layerNames(readers), opTypes(readers), reason, edge));
            } else {
                candidates.add(new Candidate(weight, readers, info.shape(), axis));
            }
        }
        return new Result(candidates, skipped);
    }

    /**
     * The node indices of the weight layers that have no weight layer upstream or none downstream. Nodes must
     * be in topological order (as {@link io.condense.sdk.model.ModelEditor#build()} leaves them).
     */
    static Set<Integer> firstAndLastLayers(List<NodeProto> nodes, List<WeightLayer> layers) {
        Set<Integer> weightNodes = new HashSet<>();
        for (WeightLayer layer : layers) {
            weightNodes.add(layer.nodeIndex());
        }
        Set<Integer> result = new HashSet<>();
        // values computed from some weight layer's output
        Set<String> afterWeights = new HashSet<>();
        for (int i = 0; i < nodes.size(); i++) {
            NodeProto node = nodes.get(i);
            boolean upstream = false;
            for (String input : node.getInputList()) {
                upstream |= afterWeights.contains(input);
            }
            boolean weightLayer = weightNodes.contains(i);
            if (weightLayer && !upstream) {
                result.add(i);
            }
            if (weightLayer || upstream) {
                afterWeights.addAll(node.getOutputList());
            }
        }
        // values some weight layer reads, directly or through weight-free nodes
        Set<String> beforeWeights = new HashSet<>();
        for (int i = nodes.size() - 1; i >= 0; i--) {
            NodeProto node = nodes.get(i);
            boolean downstream = false;
            for (String output : node.getOutputList()) {
                downstream |= beforeWeights.contains(output);
            }
            boolean weightLayer = weightNodes.contains(i);
            if (weightLayer && !downstream) {
                result.add(i);
            }
            if (weightLayer || downstream) {
                beforeWeights.addAll(node.getInputList());
            }
        }
        return result;
    }

    private String exclusion(String weight, List<WeightLayer> readers) {
        for (int p = 0; p < compiled.size(); p++) {
            Pattern pattern = compiled.get(p);
            if (pattern.matcher(weight).matches()) {
                return "excluded by pattern '" + patterns.get(p) + "'";
            }
            for (WeightLayer layer : readers) {
                String nodeName = layer.node().getName();
                String output = layer.node().getOutputCount() > 0 ? layer.node().getOutput(0) : "";
                if ((!nodeName.isEmpty() && pattern.matcher(nodeName).matches()) || (!output.isEmpty() && pattern.matcher(output).matches())) {
                    return "excluded by pattern '" + patterns.get(p) + "'";
                }
            }
        }
        return null;
    }

    static String layerNames(List<WeightLayer> layers) {
        StringBuilder names = new StringBuilder();
        for (WeightLayer layer : layers) {
            if (names.length() > 0) {
                names.append('+');
            }
            names.append(layer.displayName());
        }
        return names.toString();
    }

    static String opTypes(List<WeightLayer> layers) {
        StringBuilder ops = new StringBuilder();
        for (WeightLayer layer : layers) {
            if (ops.indexOf(layer.opType()) < 0) {
                if (ops.length() > 0) {
                    ops.append('+');
                }
                ops.append(layer.opType());
            }
        }
        return ops.toString();
    }
}
