package io.condense.sdk.model.channel;

import static java.util.Objects.requireNonNull;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import io.condense.sdk.model.LayerSelection;
import io.condense.sdk.model.NodeAttributes;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.stats.ShapeInference;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Which output channels of which layers must be removed together, and what else shrinks with them.
 *
 * <p>Every Conv and ConvTranspose (group 1), Gemm and MatMul with a constant weight starts a <em>group</em> of channels. Values carry
 * a layout: the groups along their channel axis (axis 1), in order, each channel possibly spread over a contiguous
 * run of features after Flatten or Reshape. The layout follows elementwise and pooling ops, BatchNormalization and
 * depthwise convolutions (which shrink with it); Add, Sub, Mul... of two branches unite their groups (a residual
 * connection prunes the same channels on both sides); Concat along the channels puts layouts side by side. The next
 * Conv, Gemm or MatMul slices its input axis by the layout. A group that reaches anything else (a graph output, an
 * unknown op, Transpose, Split, a grouped convolution, a weight shared by two nodes...) is blocked with the reason,
 * and nothing of it changes.
 */
final class ChannelDependencies {
    /** Ops whose first output has the first input's channels, one for one. */
    private static final Set<String> PASS_THROUGH = Set.of("Relu", "LeakyRelu", "Sigmoid", "Tanh", "Clip", "HardSigmoid",
            "HardSwish", "Elu", "Selu", "Celu", "Softplus", "Softsign", "Mish", "Gelu", "Erf", "Abs", "Neg", "Exp", "Sqrt",
            "Dropout", "Identity", "MaxPool", "AveragePool", "LpPool", "GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool");
    private static final Set<String> ELEMENTWISE = Set.of("Add", "Sub", "Mul", "Div", "Max", "Min", "Sum", "Mean");

    /** A run of one group's channels inside a value's channel axis; each channel covers {@code factor} features. */
    record Segment(int group, int channels, int factor) {
        int features() {
            return channels * factor;
        }
    }

    /** A layer whose output channels make (part of) a group. */
    record Producer(int nodeIndex, String label, String opType, String weight, int weightAxis, String output) {
    }

    /** What a slice does to the node reading the constant. */
    enum Role {
        /** the layer's own outputs (weight axis 0 of a Conv, its bias...) */
        OUTPUTS,
        /** the next layer's inputs (Conv weight axis 1, Gemm or MatMul input rows) */
        INPUTS,
        /** a per-channel parameter on the way (BatchNormalization, depthwise filter, per-channel constant) */
        PASSING
    }

    /** Slice {@code constant} along {@code axis} by the channels kept in {@code layout}; {@code nodeIndex} reads it (-1: not a layer). */
    record Slice(String constant, int axis, List<Segment> layout, int nodeIndex, Role role) {
    }

    /** A depthwise convolution's {@code group} attribute, which becomes the number of kept channels. */
    record GroupAttribute(int nodeIndex, List<Segment> layout) {
    }

    /** A Reshape to [N, features] whose explicit feature count must follow the kept channels. */
    record ReshapeTarget(int nodeIndex, long[] target, List<Segment> layout) {
    }

    static final class Group {
        final int id;
        final int channels;
        int parent;
        String blockedReason;
        final List<Producer> producers = new ArrayList<>();
        /** BatchNormalization scales right after one of the producers (for bn_scale). */
        final List<String> batchNormScales = new ArrayList<>();

        Group(int id, int channels) {
            this.id = id;
            this.channels = channels;
            this.parent = id;
        }
    }

    private final OnnxModel model;
    private final ShapeInference shapes;
    private final List<Pattern> excludes;
    private final List<String> excludeTexts;
    private final long minElements;
    private final List<Group> groups = new ArrayList<>();
    private final Map<String, List<Segment>> layouts = new HashMap<>();
    private final Map<String, ConstantTensor.Result> constants = new HashMap<>();
    private final Map<String, Integer> producerOutputs = new HashMap<>();
    private final List<Slice> slices = new ArrayList<>();
    private final List<GroupAttribute> groupAttributes = new ArrayList<>();
    private final List<ReshapeTarget> reshapeTargets = new ArrayList<>();
    private int candidateLayers;

    private ChannelDependencies(OnnxModel model, List<String> excludePatterns, long minElements) {
        this.model = requireNonNull(model, "model is null");
        requireNonNull(excludePatterns, "excludePatterns is null");
        this.shapes = ShapeInference.of(model);
        this.excludeTexts = List.copyOf(excludePatterns);
        this.excludes = excludePatterns.stream().map(LayerSelection::compile).toList();
        this.minElements = minElements;
    }

    /** Analyses a topologically sorted model. */
    static ChannelDependencies analyze(OnnxModel model, List<String> excludePatterns, long minElements) {
        ChannelDependencies dependencies = new ChannelDependencies(model, excludePatterns, minElements);
        dependencies.run();
        return dependencies;
    }

    OnnxModel model() {
        return model;
    }

    /** Conv, Gemm and MatMul nodes met (prunable or not). */
    int candidateLayers() {
        return candidateLayers;
    }

    List<Slice> slices() {
        return slices;
    }

    List<GroupAttribute> groupAttributes() {
        return groupAttributes;
    }

    List<ReshapeTarget> reshapeTargets() {
        return reshapeTargets;
    }

    /** The union-find roots that have at least one producer. */
    List<Group> rootGroups() {
        List<Group> roots = new ArrayList<>();
        for (Group group : groups) {
            if (group.parent == group.id && !group.producers.isEmpty()) {
                roots.add(group);
            }
        }
        return roots;
    }

    Group root(int group) {
        Group current = groups.get(group);
        while (current.parent != current.id) {
            Group parent = groups.get(current.parent);
            current.parent = parent.parent;
            current = groups.get(current.parent);
        }
        return current;
    }

    void block(Group group, String reason) {
        Group root = root(group.id);
        if (root.blockedReason == null) {
            root.blockedReason = reason;
        }
    }

    ConstantTensor constant(String value) {
        ConstantTensor.Result result = constants.get(value);
        if (result == null || !result.ok()) {
            throw new IllegalStateException("'" + value + "' was not accepted as a constant");
        }
        return result.tensor();
    }

    private void run() {
        List<NodeProto> nodes = model.nodes();
        for (int i = 0; i < nodes.size(); i++) {
            NodeProto node = nodes.get(i);
            String domain = node.getDomain();
            if (!domain.isEmpty() && !domain.equals("ai.onnx")) {
                blockInputs(node, "read by " + label(node) + " (" + node.getOpType() + ", domain " + domain + "), an op channel pruning does not follow");
                continue;
            }
            switch (node.getOpType()) {
                case "Conv" -> conv(i, node);
                case "ConvTranspose" -> convTranspose(i, node);
                case "Gemm" -> gemm(i, node);
                case "MatMul" -> matMul(i, node);
                case "BatchNormalization" -> batchNormalization(node);
                case "Flatten" -> flatten(node);
                case "Reshape" -> reshape(i, node);
                case "Concat" -> concat(node);
                case "Squeeze", "Unsqueeze" -> squeeze(node);
                default -> {
                    if (ELEMENTWISE.contains(node.getOpType())) {
                        elementwise(node);
                    } else if (PASS_THROUGH.contains(node.getOpType())) {
                        passThrough(node);
                    } else {
                        blockInputs(node, "read by " + label(node) + " (" + node.getOpType() + "), an op channel pruning does not follow");
                    }
                }
            }
            for (AttributeProto attribute : node.getAttributeList()) {
                if (attribute.hasG()) {
                    blockSubgraphReads(attribute.getG(), node);
                }
                for (GraphProto graph : attribute.getGraphsList()) {
                    blockSubgraphReads(graph, node);
                }
            }
        }
        for (ValueInfoProto output : model.outputs()) {
            block(layouts.get(output.getName()), "reaches the graph output '" + output.getName() + "', whose shape must not change");
        }
    }

    private void blockSubgraphReads(GraphProto graph, NodeProto owner) {
        for (NodeProto node : graph.getNodeList()) {
            for (String input : node.getInputList()) {
                block(layouts.get(input), "read inside a subgraph of " + label(owner));
            }
            for (AttributeProto attribute : node.getAttributeList()) {
                if (attribute.hasG()) {
                    blockSubgraphReads(attribute.getG(), owner);
                }
            }
        }
    }

    // ---- layers that start groups ----

    private void conv(int index, NodeProto node) {
        candidateLayers++;
        List<Segment> inputLayout = layouts.get(input(node, 0));
        String weightName = input(node, 1);
        long[] shape = convolutionWeight(node, weightName, inputLayout);
        if (shape == null) {
            return;
        }
        long group = NodeAttributes.getInt(node, "group", 1);
        int outputs = Math.toIntExact(shape[0]);
        int inputsPerGroup = Math.toIntExact(shape[1]);
        if (group == 1) {
            sliceInputs(index, node, weightName, 1, inputsPerGroup, inputLayout);
            producer(index, node, weightName, 0, input(node, 2), outputs);
            return;
        }
        if (group == outputs && inputsPerGroup == 1) {
            // depthwise: one filter per channel, the channel passes through and shrinks with its group
            if (inputLayout == null) {
                return;
            }
            if (!plain(inputLayout) || features(inputLayout) != outputs) {
                block(inputLayout, "depthwise " + label(node) + " reads a value whose channel layout does not match its weight");
                return;
            }
            String biasName = input(node, 2);
            if (!biasName.isEmpty()) {
                ConstantTensor.Result bias = acceptConstant(biasName);
                if (!bias.ok()) {
                    block(inputLayout, "the bias of depthwise " + label(node) + " cannot be sliced: " + bias.refusal());
                    return;
                }
                slices.add(new Slice(biasName, 0, inputLayout, index, Role.PASSING));
            }
            slices.add(new Slice(weightName, 0, inputLayout, index, Role.PASSING));
            groupAttributes.add(new GroupAttribute(index, inputLayout));
            layouts.put(node.getOutput(0), inputLayout);
            return;
        }
        blockedGroup(index, node, weightName, 0, outputs, inputLayout, label(node) + " is a grouped convolution (group=" + group + ", "
                + inputsPerGroup + " input channels per group): its channels are tied to its groups, and pruning whole groups is not supported");
    }

    /** A Conv or ConvTranspose weight's shape, or null after blocking the input's channels when it cannot be sliced. */
    private long[] convolutionWeight(NodeProto node, String weightName, List<Segment> inputLayout) {
        ConstantTensor.Result weight = acceptConstant(weightName);
        if (!weight.ok()) {
            block(inputLayout, label(node) + "'s weight cannot be sliced: " + weight.refusal());
            return null;
        }
        long[] shape = weight.tensor().originalShape();
        if (shape.length < 3) {
            block(inputLayout, label(node) + " has a weight of rank " + shape.length);
            return null;
        }
        return shape;
    }

    /** The layer reads the input's channels along weight {@code axis}, which must hold {@code inputs} of them. */
    private void sliceInputs(int index, NodeProto node, String weightName, int axis, long inputs, List<Segment> inputLayout) {
        if (inputLayout == null) {
            return;
        }
        if (!plain(inputLayout) || features(inputLayout) != inputs) {
            block(inputLayout, label(node) + " reads a value whose channel layout does not match its weight");
        } else {
            slices.add(new Slice(weightName, axis, inputLayout, index, Role.INPUTS));
        }
    }

    /** A grouped layer: its input's channels and its own outputs (along weight {@code weightAxis}) stay, for {@code why}. */
    private void blockedGroup(int index, NodeProto node, String weightName, int weightAxis, int outputs, List<Segment> inputLayout,
            String why) {
        block(inputLayout, why);
        Group output = newGroup(outputs);
        output.producers.add(new Producer(index, label(node), node.getOpType(), weightName, weightAxis, node.getOutput(0)));
        output.blockedReason = why;
        layouts.put(node.getOutput(0), List.of(new Segment(output.id, outputs, 1)));
    }

    /**
     * ConvTranspose (group 1): its weight is [C_in, C_out, k...], so it reads its input channels along weight axis 0
     * and writes its output channels along axis 1 (and its bias). An explicit {@code output_shape} naming the channels
     * blocks its outputs; grouped ones are blocked like grouped convolutions.
     */
    private void convTranspose(int index, NodeProto node) {
        candidateLayers++;
        List<Segment> inputLayout = layouts.get(input(node, 0));
        String weightName = input(node, 1);
        long[] shape = convolutionWeight(node, weightName, inputLayout);
        if (shape == null) {
            return;
        }
        long group = NodeAttributes.getInt(node, "group", 1);
        int outputs = Math.toIntExact(shape[1] * group);
        if (group != 1) {
            blockedGroup(index, node, weightName, 1, outputs, inputLayout, label(node) + " is a grouped transposed convolution (group="
                    + group + "): its channels are tied to its groups, and pruning whole groups is not supported");
            return;
        }
        sliceInputs(index, node, weightName, 0, shape[0], inputLayout);
        producer(index, node, weightName, 1, input(node, 2), outputs);
        List<Long> outputShape = NodeAttributes.find(node, "output_shape").map(AttributeProto::getIntsList).orElse(List.of());
        if (outputShape.size() > shape.length - 2) {
            block(layouts.get(node.getOutput(0)), label(node) + " sets output_shape " + outputShape + " with its channel count");
        }
    }

    private void gemm(int index, NodeProto node) {
        candidateLayers++;
        String input = input(node, 0);
        List<Segment> inputLayout = layouts.get(input);
        String weightName = input(node, 1);
        ConstantTensor.Result weight = acceptConstant(weightName);
        if (!weight.ok() || weight.tensor().originalShape().length != 2) {
            blockInputs(node, label(node) + "'s weight cannot be sliced: " + (weight.ok() ? "it is not a matrix" : weight.refusal()));
            return;
        }
        long[] shape = weight.tensor().originalShape();
        int inputAxis = NodeAttributes.getInt(node, "transB", 0) == 1 ? 1 : 0;
        int outputAxis = 1 - inputAxis;
        if (inputLayout != null) {
            if (NodeAttributes.getInt(node, "transA", 0) != 0 || features(inputLayout) != shape[inputAxis]) {
                block(inputLayout, label(node) + " reads its input transposed or with a feature count that does not match the channels");
            } else {
                slices.add(new Slice(weightName, inputAxis, inputLayout, index, Role.INPUTS));
            }
        }
        producer(index, node, weightName, outputAxis, input(node, 2), Math.toIntExact(shape[outputAxis]));
    }

    private void matMul(int index, NodeProto node) {
        candidateLayers++;
        String input = input(node, 0);
        List<Segment> inputLayout = layouts.get(input);
        String weightName = input(node, 1);
        Optional<long[]> inputShape = shapes.shape(input);
        if (!isConstant(weightName)) {
            blockInputs(node, label(node) + " multiplies two computed values");
            return;
        }
        ConstantTensor.Result weight = acceptConstant(weightName);
        if (!weight.ok() || weight.tensor().originalShape().length != 2 || inputShape.isEmpty() || inputShape.get().length != 2) {
            blockInputs(node, label(node) + " is not a [N, K] x [K, M] product with a sliceable constant weight"
                    + (weight.ok() ? "" : " (" + weight.refusal() + ")"));
            return;
        }
        long[] shape = weight.tensor().originalShape();
        if (inputLayout != null) {
            if (features(inputLayout) != shape[0]) {
                block(inputLayout, label(node) + " reads a value whose feature count does not match its weight");
            } else {
                slices.add(new Slice(weightName, 0, inputLayout, index, Role.INPUTS));
            }
        }
        producer(index, node, weightName, 1, "", Math.toIntExact(shape[1]));
    }

    private void producer(int index, NodeProto node, String weightName, int weightAxis, String biasName, int channels) {
        Group group = newGroup(channels);
        group.producers.add(new Producer(index, label(node), node.getOpType(), weightName, weightAxis, node.getOutput(0)));
        List<Segment> layout = List.of(new Segment(group.id, channels, 1));
        String excluded = selectionReason(node, weightName);
        if (excluded != null) {
            group.blockedReason = excluded;
        }
        slices.add(new Slice(weightName, weightAxis, layout, index, Role.OUTPUTS));
        if (!biasName.isEmpty()) {
            if (!isConstant(biasName)) {
                group.blockedReason = group.blockedReason != null ? group.blockedReason : label(node) + "'s bias is computed at run time";
            } else {
                ConstantTensor.Result bias = acceptConstant(biasName);
                if (!bias.ok()) {
                    group.blockedReason = group.blockedReason != null ? group.blockedReason : label(node) + "'s bias cannot be sliced: " + bias.refusal();
                } else {
                    long[] biasShape = bias.tensor().originalShape();
                    if (biasShape.length > 0 && biasShape[biasShape.length - 1] == channels && channels > 1) {
                        slices.add(new Slice(biasName, biasShape.length - 1, layout, index, Role.OUTPUTS));
                    } else if (ConstantTensor.product(biasShape, 0, biasShape.length) != 1) {
                        group.blockedReason = group.blockedReason != null ? group.blockedReason
                                : label(node) + "'s bias has a shape that does not broadcast along its outputs";
                    }
                }
            }
        }
        layouts.put(node.getOutput(0), layout);
        producerOutputs.put(node.getOutput(0), group.id);
    }

    private String selectionReason(NodeProto node, String weightName) {
        for (int i = 0; i < excludes.size(); i++) {
            Pattern pattern = excludes.get(i);
            if (pattern.matcher(node.getName()).matches() || pattern.matcher(node.getOutput(0)).matches()
                    || pattern.matcher(weightName).matches()) {
                return label(node) + " is excluded by '" + excludeTexts.get(i) + "'";
            }
        }
        long elements = ConstantTensor.product(constant(weightName).originalShape(), 0, constant(weightName).originalShape().length);
        if (elements < minElements) {
            return label(node) + "'s weight has " + elements + " elements, fewer than min_elements=" + minElements;
        }
        return null;
    }

    // ---- ops the channels pass through ----

    private void batchNormalization(NodeProto node) {
        List<Segment> layout = layouts.get(input(node, 0));
        if (layout == null) {
            return;
        }
        if (usesExtraOutputs(node)) {
            block(layout, label(node) + " in training mode (running statistics as outputs)");
            return;
        }
        for (int i = 1; i <= 4; i++) {
            ConstantTensor.Result parameter = acceptConstant(input(node, i));
            if (!parameter.ok() || parameter.tensor().originalShape().length != 1 || parameter.tensor().originalShape()[0] != features(layout)) {
                block(layout, label(node) + "'s parameter '" + input(node, i) + "' cannot be sliced"
                        + (parameter.ok() ? " (not one value per channel)" : ": " + parameter.refusal()));
                return;
            }
        }
        for (int i = 1; i <= 4; i++) {
            slices.add(new Slice(input(node, i), 0, layout, -1, Role.PASSING));
        }
        Integer producer = producerOutputs.get(input(node, 0));
        if (producer != null) {
            groups.get(producer).batchNormScales.add(input(node, 1));
        }
        layouts.put(node.getOutput(0), layout);
    }

    private void passThrough(NodeProto node) {
        for (int i = 1; i < node.getInputCount(); i++) {
            block(layouts.get(node.getInput(i)), "read as a parameter of " + label(node) + " (" + node.getOpType() + ")");
        }
        List<Segment> layout = layouts.get(input(node, 0));
        if (layout == null) {
            return;
        }
        if (usesExtraOutputs(node)) {
            block(layout, label(node) + "'s second output (mask or indices) is used");
            return;
        }
        layouts.put(node.getOutput(0), layout);
    }

    private void flatten(NodeProto node) {
        List<Segment> layout = layouts.get(input(node, 0));
        if (layout == null) {
            return;
        }
        Optional<long[]> shape = shapes.shape(input(node, 0));
        if (shape.isEmpty() || !known(shape.get())) {
            block(layout, label(node) + " flattens a value of unknown shape");
            return;
        }
        int rank = shape.get().length;
        long axis = NodeAttributes.getInt(node, "axis", 1);
        if (axis < 0) {
            axis += rank;
        }
        if (axis != 1) {
            block(layout, label(node) + " flattens from axis " + axis + ", not 1: the channels would not stay contiguous");
            return;
        }
        layouts.put(node.getOutput(0), spread(layout, ConstantTensor.product(shape.get(), 2, rank)));
    }

    private void reshape(int index, NodeProto node) {
        block(layouts.get(input(node, 1)), "used as the shape of " + label(node));
        List<Segment> layout = layouts.get(input(node, 0));
        if (layout == null) {
            return;
        }
        Optional<long[]> in = shapes.shape(input(node, 0));
        Optional<long[]> out = shapes.shape(node.getOutput(0));
        Optional<long[]> target = ConstantTensor.longConstant(model, input(node, 1));
        if (in.isEmpty() || out.isEmpty() || !known(in.get()) || target.isEmpty()) {
            block(layout, label(node) + " reshapes to a shape only known at run time");
            return;
        }
        long[] from = in.get();
        long[] to = out.get();
        if (from.length < 2 || to.length != 2 || to[0] != from[0] || to[1] != ConstantTensor.product(from, 1, from.length)
                || target.get().length != 2) {
            block(layout, label(node) + " reshapes " + Arrays.toString(from) + " to " + Arrays.toString(to)
                    + ": only flattening to [N, features] keeps each channel's features contiguous");
            return;
        }
        List<Segment> spread = spread(layout, ConstantTensor.product(from, 2, from.length));
        if (target.get()[1] > 0) {
            if (target.get()[0] < 0 && from[0] != 1) {
                block(layout, label(node) + " reshapes to [-1, " + target.get()[1] + "] with a batch above 1");
                return;
            }
            reshapeTargets.add(new ReshapeTarget(index, target.get(), spread));
        }
        layouts.put(node.getOutput(0), spread);
    }

    private void squeeze(NodeProto node) {
        for (int i = 1; i < node.getInputCount(); i++) {
            block(layouts.get(node.getInput(i)), "used as the axes of " + label(node));
        }
        List<Segment> layout = layouts.get(input(node, 0));
        if (layout == null) {
            return;
        }
        Optional<long[]> in = shapes.shape(input(node, 0));
        Optional<long[]> out = shapes.shape(node.getOutput(0));
        if (in.isEmpty() || out.isEmpty() || in.get().length < 2 || out.get().length < 2 || in.get()[0] != out.get()[0]
                || in.get()[1] != out.get()[1]) {
            block(layout, label(node) + " moves the channel axis");
            return;
        }
        layouts.put(node.getOutput(0), layout);
    }

    private void concat(NodeProto node) {
        boolean tracked = node.getInputList().stream().anyMatch(layouts::containsKey);
        if (!tracked) {
            return;
        }
        Optional<long[]> out = shapes.shape(node.getOutput(0));
        long axis = NodeAttributes.getInt(node, "axis", 1);
        if (out.isPresent() && axis < 0) {
            axis += out.get().length;
        }
        if (out.isEmpty() || axis != 1) {
            blockInputs(node, label(node) + " concatenates along axis " + axis + ", not the channels");
            return;
        }
        List<Segment> joined = new ArrayList<>();
        for (String input : node.getInputList()) {
            List<Segment> layout = layouts.get(input);
            if (layout != null) {
                joined.addAll(layout);
                continue;
            }
            Optional<long[]> shape = shapes.shape(input);
            if (shape.isEmpty() || shape.get().length < 2 || shape.get()[1] <= 0) {
                blockInputs(node, label(node) + " concatenates a value of unknown channel count");
                return;
            }
            Group fixed = newGroup(Math.toIntExact(shape.get()[1]));
            fixed.blockedReason = "'" + input + "' is not produced by a prunable layer";
            joined.add(new Segment(fixed.id, fixed.channels, 1));
        }
        layouts.put(node.getOutput(0), List.copyOf(joined));
    }

    private void elementwise(NodeProto node) {
        List<String> inputs = node.getInputList();
        List<Segment> first = null;
        for (String input : inputs) {
            if (layouts.containsKey(input)) {
                first = layouts.get(input);
                break;
            }
        }
        if (first == null) {
            return;
        }
        Optional<long[]> out = shapes.shape(node.getOutput(0));
        if (out.isEmpty() || out.get().length < 2) {
            blockInputs(node, label(node) + " has an output of unknown shape");
            return;
        }
        int rank = out.get().length;
        long features = features(first);
        List<Slice> constantSlices = new ArrayList<>();
        for (String input : inputs) {
            List<Segment> layout = layouts.get(input);
            Optional<long[]> shape = shapes.shape(input);
            if (layout != null) {
                if (shape.isEmpty() || shape.get().length != rank || !sameStructure(first, layout)) {
                    blockInputs(node, label(node) + " combines branches whose channels do not line up");
                    return;
                }
                continue;
            }
            if (shape.isEmpty()) {
                blockInputs(node, label(node) + " combines the channels with '" + input + "' of unknown shape");
                return;
            }
            int axis = 1 - (rank - shape.get().length);
            if (axis < 0 || shape.get()[axis] == 1) {
                continue; // broadcast along the channels: unaffected
            }
            if (shape.get()[axis] != features || !isConstant(input)) {
                blockInputs(node, label(node) + " combines the channels with '" + input + "', which is not a per-channel constant");
                return;
            }
            ConstantTensor.Result constant = acceptConstant(input);
            if (!constant.ok()) {
                blockInputs(node, label(node) + "'s per-channel constant cannot be sliced: " + constant.refusal());
                return;
            }
            constantSlices.add(new Slice(input, axis, first, -1, Role.PASSING));
        }
        for (String input : inputs) {
            List<Segment> layout = layouts.get(input);
            if (layout != null) {
                for (int s = 0; s < first.size(); s++) {
                    union(first.get(s).group(), layout.get(s).group());
                }
            }
        }
        slices.addAll(constantSlices);
        layouts.put(node.getOutput(0), first);
    }

    // ---- helpers ----

    private Group newGroup(int channels) {
        Group group = new Group(groups.size(), channels);
        groups.add(group);
        return group;
    }

    private void union(int a, int b) {
        Group first = root(a);
        Group second = root(b);
        if (first == second) {
            return;
        }
        if (first.channels != second.channels) {
            throw new IllegalStateException("uniting groups of " + first.channels + " and " + second.channels + " channels");
        }
        second.parent = first.id;
        first.producers.addAll(second.producers);
        first.batchNormScales.addAll(second.batchNormScales);
        if (first.blockedReason == null) {
            first.blockedReason = second.blockedReason;
        }
    }

    private void block(List<Segment> layout, String reason) {
        if (layout == null) {
            return;
        }
        for (Segment segment : layout) {
            block(groups.get(segment.group()), reason);
        }
    }

    private void blockInputs(NodeProto node, String reason) {
        for (String input : node.getInputList()) {
            block(layouts.get(input), reason);
        }
    }

    private ConstantTensor.Result acceptConstant(String value) {
        return constants.computeIfAbsent(value, name -> ConstantTensor.of(model, name));
    }

    private boolean isConstant(String value) {
        if (model.isInitializer(value)) {
            return true;
        }
        int producer = model.producerIndex(value);
        if (producer < 0) {
            return false;
        }
        String op = model.nodes().get(producer).getOpType();
        return op.equals("Constant") || op.equals("ConstantOfShape");
    }

    private boolean usesExtraOutputs(NodeProto node) {
        Set<String> graphOutputs = new HashSet<>();
        for (ValueInfoProto output : model.outputs()) {
            graphOutputs.add(output.getName());
        }
        for (int i = 1; i < node.getOutputCount(); i++) {
            String output = node.getOutput(i);
            if (!output.isEmpty() && (!model.consumers(output).isEmpty() || graphOutputs.contains(output))) {
                return true;
            }
        }
        return false;
    }

    private static List<Segment> spread(List<Segment> layout, long factor) {
        List<Segment> spread = new ArrayList<>(layout.size());
        for (Segment segment : layout) {
            spread.add(new Segment(segment.group(), segment.channels(), Math.toIntExact(segment.factor() * factor)));
        }
        return List.copyOf(spread);
    }

    private static boolean sameStructure(List<Segment> first, List<Segment> second) {
        if (first.size() != second.size()) {
            return false;
        }
        for (int i = 0; i < first.size(); i++) {
            if (first.get(i).channels() != second.get(i).channels() || first.get(i).factor() != second.get(i).factor()) {
                return false;
            }
        }
        return true;
    }

    static long features(List<Segment> layout) {
        long features = 0;
        for (Segment segment : layout) {
            features += segment.features();
        }
        return features;
    }

    private static boolean plain(List<Segment> layout) {
        return layout.stream().allMatch(segment -> segment.factor() == 1);
    }

    /** Whether every dimension after the batch is known. */
    private static boolean known(long[] shape) {
        for (int i = 1; i < shape.length; i++) {
            if (shape[i] <= 0) {
                return false;
            }
        }
        return true;
    }

    private static String input(NodeProto node, int index) {
        return index < node.getInputCount() ? node.getInput(index) : "";
    }

    static String label(NodeProto node) {
        String name = node.getName().isEmpty() ? (node.getOutputCount() > 0 ? node.getOutput(0) : node.getOpType()) : node.getName();
        return node.getOpType() + " '" + name + "'";
    }
}
