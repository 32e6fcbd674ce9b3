package io.condense.sdk.model;

import static java.util.Objects.requireNonNull;

import io.condense.sdk.tensor.DataType;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Which weights a technique touches: every float32 weight of the given Conv, Gemm and MatMul layers, minus those
 * excluded by name pattern or by size, each with the reason it was left alone. A weight shared by several layers
 * is one candidate, skipped when any of its layers is excluded.
 *
 * <p>Patterns are globs ({@code *} any run of characters, {@code ?} one character) matched against the whole node
 * name, the node's first output and the weight initializer's name; a pattern that starts with {@code regex:} is a
 * Java regular expression matched the same way. {@link io.condense.sdk.technique.SelectionParameters} declares the
 * {@code exclude} and {@code min_elements} parameters and builds a selection from them.
 *
 * <p>The checks, in the order the first failing one gives the reason: the exclude patterns, the
 * {@link #excludingNodes nodes a technique leaves alone}, the weight being an initializer Condense reads
 * ({@link #denseOnly() dense only} on request), float32, at least {@code min_elements} elements, at most 2^31 - 9
 * elements, and on request ({@link #requiringOutputChannelAxis()}) one output-channel axis the weight has.
 * Instances are immutable; the {@code excluding...}/{@code ...Only}/{@code requiring...} methods return new ones.
 */
public final class LayerSelection {
    /** The prefix that makes an exclude pattern a Java regular expression. */
    public static final String REGEX_PREFIX = "regex:";

    /** A weight to change, with the layers that read it. */
    public record Candidate(String weightName, List<WeightLayer> layers, long[] shape, int elements) {
        public Candidate {
            requireNonNull(weightName, "weightName is null");
            layers = List.copyOf(requireNonNull(layers, "layers is null"));
            shape = requireNonNull(shape, "shape is null").clone();
            if (layers.isEmpty()) {
                throw new IllegalArgumentException("candidate '" + weightName + "' has no layer");
            }
        }

        @Override
        public long[] shape() {
            return shape.clone();
        }

        /** The names of its layers, joined with '+'. */
        public String layerNames() {
            return LayerSelection.layerNames(layers);
        }

        /** The op types of its layers, joined with '+' (usually one). */
        public String opTypes() {
            return LayerSelection.opTypes(layers);
        }

        /** The output-channel axis of its first layer; the same for all with {@link LayerSelection#requiringOutputChannelAxis()}. */
        public int outputChannelAxis() {
            return layers.get(0).outputChannelAxis();
        }

        /** Whether all its layers read the weight with the output channels on the same axis. */
        public boolean sameOutputChannelAxis() {
            int axis = outputChannelAxis();
            for (WeightLayer layer : layers) {
                if (layer.outputChannelAxis() != axis) {
                    return false;
                }
            }
            return true;
        }
    }

    /** A weight left alone, and why. */
    public record Skipped(String weightName, String layerNames, String opTypes, String reason) {
        public Skipped {
            requireNonNull(weightName, "weightName is null");
            requireNonNull(layerNames, "layerNames is null");
            requireNonNull(opTypes, "opTypes is null");
            requireNonNull(reason, "reason is null");
        }

        /** A candidate left alone after all, for a reason of the technique's own (too small to gain anything...). */
        public static Skipped of(Candidate candidate, String reason) {
            requireNonNull(candidate, "candidate is null");
            return new Skipped(candidate.weightName(), candidate.layerNames(), candidate.opTypes(), reason);
        }

        /** The report entry: {@code name}, {@code op}, {@code weight}, {@code reason}. */
        public Map<String, Object> toReport() {
            Map<String, Object> entry = new LinkedHashMap<>();
            entry.put("name", layerNames);
            entry.put("op", opTypes);
            entry.put("weight", weightName);
            entry.put("reason", reason);
            return entry;
        }
    }

    /** The weights chosen and those left alone, each in the order their first layer appears. */
    public record Result(List<Candidate> candidates, List<Skipped> skipped) {
        public Result {
            candidates = List.copyOf(requireNonNull(candidates, "candidates is null"));
            skipped = List.copyOf(requireNonNull(skipped, "skipped is null"));
        }

        /** {@link LayerSelection#reasons(List) The reasons} of the skipped weights. */
        public String skippedReasons() {
            return reasons(skipped);
        }
    }

    private final List<String> patterns;
    private final List<Pattern> compiled;
    private final long minElements;
    private final Set<Integer> excludedNodes;
    private final String excludedNodesReason;
    private final boolean denseOnly;
    private final boolean requireOutputChannelAxis;

    /**
     * @param excludePatterns globs or {@code regex:} expressions ({@link #problem(String)} says why one cannot be used)
     * @param minElements weights with fewer elements are skipped
     * @throws IllegalArgumentException when a {@code regex:} pattern does not compile
     */
    public LayerSelection(List<String> excludePatterns, long minElements) {
        this(excludePatterns, minElements, Set.of(), "", false, false);
    }

    private LayerSelection(List<String> patterns, long minElements, Set<Integer> excludedNodes, String excludedNodesReason,
            boolean denseOnly, boolean requireOutputChannelAxis) {
        this.patterns = List.copyOf(requireNonNull(patterns, "excludePatterns is null"));
        this.compiled = new ArrayList<>(this.patterns.size());
        for (String pattern : this.patterns) {
            compiled.add(compile(pattern));
        }
        if (minElements < 0) {
            throw new IllegalArgumentException("minElements must be at least 0, got " + minElements);
        }
        this.minElements = minElements;
        this.excludedNodes = Set.copyOf(requireNonNull(excludedNodes, "excludedNodes is null"));
        this.excludedNodesReason = requireNonNull(excludedNodesReason, "reason is null");
        this.denseOnly = denseOnly;
        this.requireOutputChannelAxis = requireOutputChannelAxis;
    }

    /**
     * Also leaves alone every weight read by a layer at one of these node indices (of the model given to
     * {@link #select}), with that reason; checked right after the exclude patterns. Replaces earlier such nodes.
     */
    public LayerSelection excludingNodes(Set<Integer> nodeIndices, String reason) {
        return new LayerSelection(patterns, minElements, nodeIndices, reason, denseOnly, requireOutputChannelAxis);
    }

    /** Also skips weights stored as sparse initializers ("its weight is not a dense initializer"). */
    public LayerSelection denseOnly() {
        return new LayerSelection(patterns, minElements, excludedNodes, excludedNodesReason, true, requireOutputChannelAxis);
    }

    /**
     * Also skips weights whose layers read them with output channels on different axes, or whose shape has no such
     * axis (scalars, empty weights): what a technique with per-channel scales needs.
     */
    public LayerSelection requiringOutputChannelAxis() {
        return new LayerSelection(patterns, minElements, excludedNodes, excludedNodesReason, denseOnly, true);
    }

    public List<String> excludePatterns() {
        return patterns;
    }

    public long minElements() {
        return minElements;
    }

    /** Compiles one exclude pattern: a glob, or a Java regular expression after {@value #REGEX_PREFIX}. */
    public static Pattern compile(String pattern) {
        requireNonNull(pattern, "pattern is null");
        if (pattern.startsWith(REGEX_PREFIX)) {
            return Pattern.compile(pattern.substring(REGEX_PREFIX.length()));
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
    public static String problem(String pattern) {
        try {
            compile(pattern);
            return null;
        } catch (IllegalArgumentException e) {
            return "'" + pattern + "' is not a valid regular expression: " + e.getMessage().lines().findFirst().orElse("");
        }
    }

    /** Chooses among {@code layers} (usually {@code model.weightLayers()}) of {@code model}. */
    public Result select(OnnxModel model, List<WeightLayer> layers) {
        requireNonNull(model, "model is null");
        requireNonNull(layers, "layers is null");
        Map<String, InitializerInfo> infos = new HashMap<>();
        for (InitializerInfo info : model.initializers()) {
            infos.put(info.name(), info);
        }
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
            if (reason == null && !excludedNodes.isEmpty()) {
                for (WeightLayer layer : readers) {
                    if (excludedNodes.contains(layer.nodeIndex())) {
                        reason = excludedNodesReason;
                    }
                }
            }
            InitializerInfo info = infos.get(weight);
            if (reason == null && denseOnly && (info == null || info.sparse())) {
                reason = "its weight is not a dense initializer";
            }
            if (reason == null && info == null) {
                reason = "its weight is not a tensor type Condense reads";
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
            if (reason == null && requireOutputChannelAxis) {
                reason = outputChannelAxisProblem(readers, info);
            }
            if (reason != null) {
                skipped.add(new Skipped(weight, layerNames(readers), opTypes(readers), reason));
            } else {
                candidates.add(new Candidate(weight, readers, info.shape(), (int) info.elements()));
            }
        }
        skipped.addAll(unhandled(model));
        return new Result(candidates, skipped);
    }

    /**
     * Layers with weights that are not among {@link OnnxModel#weightLayers()}, each with the reason it is left as it
     * is: recurrent layers (LSTM, GRU, RNN), layers whose weight is already quantized (through DequantizeLinear, or an
     * integer kernel such as QLinearConv or MatMulInteger), Einsum that is not a plain matrix product, and Conv, Gemm or
     * MatMul reading a constant Condense does not take as a weight, and weight layers inside If, Loop and Scan bodies
     * (the subgraphs are kept as they are). {@link #select} appends them to its skipped list,
     * so that every technique's report names them.
     */
    public static List<Skipped> unhandled(OnnxModel model) {
        requireNonNull(model, "model is null");
        Set<Integer> layerNodes = new java.util.HashSet<>();
        for (WeightLayer layer : model.weightLayers()) {
            layerNodes.add(layer.nodeIndex());
        }
        List<Skipped> entries = new ArrayList<>();
        List<ai.onnx.proto.OnnxMl.NodeProto> nodes = model.nodes();
        for (int i = 0; i < nodes.size(); i++) {
            ai.onnx.proto.OnnxMl.NodeProto node = nodes.get(i);
            if (layerNodes.contains(i)) {
                continue;
            }
            String op = node.getOpType();
            String name = node.getName().isEmpty() ? (node.getOutputCount() > 0 ? node.getOutput(0) : op) : node.getName();
            String reason = null;
            String weight = null;
            switch (op) {
                case "LSTM", "GRU", "RNN" -> {
                    if (node.getInputCount() >= 3 && model.isInitializer(node.getInput(1))) {
                        weight = node.getInput(1) + "+" + node.getInput(2);
                        reason = "recurrent layer: its W and R weights are left in float (the techniques change Conv, "
                                + "ConvTranspose, Gemm and MatMul weights)";
                    }
                }
                case "QLinearConv", "QLinearMatMul", "ConvInteger", "MatMulInteger", "DynamicQuantizeLinear" -> {
                    for (String input : node.getInputList()) {
                        if (!input.isEmpty() && model.isInitializer(input) && weight == null) {
                            weight = input;
                        }
                    }
                    if (weight != null) {
                        reason = "already an integer kernel (" + op + "): its weights are left as they are";
                    }
                }
                case "Conv", "ConvTranspose", "Gemm", "MatMul", "Einsum" -> {
                    for (int position = 0; position < Math.min(2, node.getInputCount()) && reason == null; position++) {
                        String input = node.getInput(position);
                        ai.onnx.proto.OnnxMl.NodeProto producer = model.producer(input).orElse(null);
                        if (producer != null && producer.getOpType().equals("DequantizeLinear") && producer.getInputCount() > 0
                                && model.isInitializer(producer.getInput(0))) {
                            weight = producer.getInput(0);
                            reason = "its weight is already quantized (" + describeType(model, weight)
                                    + " through DequantizeLinear): left as it is, not quantized twice";
                        } else if (model.isInitializer(input) && (position == 1 || op.equals("MatMul") || op.equals("Einsum"))) {
                            weight = input;
                            reason = op.equals("Einsum")
                                    ? "Einsum '" + NodeAttributes.getString(node, "equation", "") + "' is not a matrix product "
                                            + "Condense rewrites as MatMul"
                                    : "its constant input of shape " + model.initializer(input).map(t -> t.getDimsList().toString())
                                            .orElse("(sparse)")
                                            + " is not a weight of the shape " + op + " takes";
                        }
                    }
                }
                default -> {
                    // no weights
                }
            }
            if (reason != null) {
                entries.add(new Skipped(weight, name, op, reason));
            }
            for (ai.onnx.proto.OnnxMl.AttributeProto attribute : node.getAttributeList()) {
                List<ai.onnx.proto.OnnxMl.GraphProto> graphs = new ArrayList<>(attribute.getGraphsList());
                if (attribute.hasG()) {
                    graphs.add(attribute.getG());
                }
                for (ai.onnx.proto.OnnxMl.GraphProto graph : graphs) {
                    subgraphWeights(model, graph, op + " '" + name + "' (" + attribute.getName() + ")", entries);
                }
            }
        }
        return entries;
    }

    /** Weight layers inside an If/Loop/Scan body: their weights (outer initializers or the body's own constants) stay. */
    private static void subgraphWeights(OnnxModel model, ai.onnx.proto.OnnxMl.GraphProto graph, String owner, List<Skipped> entries) {
        Set<String> constants = new java.util.HashSet<>();
        for (ai.onnx.proto.OnnxMl.TensorProto tensor : graph.getInitializerList()) {
            constants.add(tensor.getName());
        }
        for (ai.onnx.proto.OnnxMl.NodeProto inner : graph.getNodeList()) {
            if (inner.getOpType().equals("Constant")) {
                constants.addAll(inner.getOutputList());
            }
        }
        for (ai.onnx.proto.OnnxMl.NodeProto inner : graph.getNodeList()) {
            String op = inner.getOpType();
            if (!Set.of("Conv", "ConvTranspose", "Gemm", "MatMul", "LSTM", "GRU", "RNN").contains(op)) {
                continue;
            }
            for (int position = 0; position < Math.min(2, inner.getInputCount()); position++) {
                String input = inner.getInput(position);
                if (constants.contains(input) || model.isInitializer(input)) {
                    String name = inner.getName().isEmpty() ? inner.getOutput(0) : inner.getName();
                    entries.add(new Skipped(input, name, op, "inside the subgraph of " + owner + ": weights in If, Loop and Scan "
                            + "bodies are left as they are"));
                    break;
                }
            }
        }
    }

    private static String describeType(OnnxModel model, String name) {
        return model.initializers().stream().filter(info -> info.name().equals(name)).findFirst()
                .map(info -> info.dataType().name().toLowerCase(Locale.ROOT)).orElse("an integer type");
    }

    private static String outputChannelAxisProblem(List<WeightLayer> readers, InitializerInfo info) {
        int axis = readers.get(0).outputChannelAxis();
        for (WeightLayer layer : readers) {
            if (layer.outputChannelAxis() != axis) {
                return "its layers read it with output channels on different axes";
            }
        }
        long[] shape = info.shape();
        if (shape.length == 0 || axis >= shape.length || info.elements() == 0) {
            return "its weight of shape " + Arrays.toString(shape) + " has no output-channel axis " + axis;
        }
        return null;
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

    /** {@code "layers: reason; layers: reason"} over skipped weights, for NOTHING_TO_COMPRESS messages. */
    public static String reasons(List<Skipped> skipped) {
        requireNonNull(skipped, "skipped is null");
        StringBuilder reasons = new StringBuilder();
        for (Skipped entry : skipped) {
            reasons.append(reasons.length() == 0 ? "" : "; ").append(entry.layerNames()).append(": ").append(entry.reason());
        }
        return reasons.toString();
    }

    /** The report's {@code skipped} list: one {@link Skipped#toReport()} entry per skipped weight, in order. */
    public static List<Map<String, Object>> skippedReport(List<Skipped> skipped) {
        requireNonNull(skipped, "skipped is null");
        List<Map<String, Object>> entries = new ArrayList<>(skipped.size());
        for (Skipped entry : skipped) {
            entries.add(entry.toReport());
        }
        return entries;
    }

    /** The display names of the layers, joined with '+'. */
    public static String layerNames(List<WeightLayer> layers) {
        StringBuilder names = new StringBuilder();
        for (WeightLayer layer : layers) {
            if (names.length() > 0) {
                names.append('+');
            }
            names.append(layer.displayName());
        }
        return names.toString();
    }

    /** The distinct op types of the layers, joined with '+'. */
    public static String opTypes(List<WeightLayer> layers) {
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
