package io.condense.sdk.model.channel;

import static java.util.Objects.requireNonNull;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import io.condense.sdk.context.StepContext;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.model.ModelContents;
import io.condense.sdk.model.ModelEditor;
import io.condense.sdk.model.NodeAttributes;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.model.channel.ChannelDependencies.Group;
import io.condense.sdk.model.channel.ChannelDependencies.Producer;
import io.condense.sdk.model.channel.ChannelDependencies.Segment;
import io.condense.sdk.model.channel.ChannelDependencies.Slice;
import io.condense.sdk.stats.ModelStats;
import io.condense.sdk.stats.ShapeInference;
import io.condense.sdk.technique.Report;
import io.condense.sdk.tensor.DataType;
import io.condense.sdk.tensor.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;

/**
 * Structured channel pruning as model editing: removes whole output channels of Conv, Gemm and MatMul layers, chosen per
 * coupled group by a {@link ChannelCriterion}, and really shrinks the graph: the layer's weight and bias, the
 * BatchNormalization and depthwise convolutions after it, any per-channel constant, the next layers' input axis and explicit
 * Reshape targets. What is coupled and what is refused is decided by {@link ChannelDependencies}.
 *
 * <p>The typed call behind {@code prune(structure=channel)} (which turns its parameters into a {@link Request} and adds its
 * own report entries) and behind {@code distill}'s derived students ({@link #narrow}): plugins share this through the SDK,
 * never through each other.
 */
public final class ChannelPruner {

    /**
     * What to prune.
     *
     * @param sparsity share of the channels removed, in [0, 1): of each group (round(S x C) go, at least one stays), or with
     *        {@code global} of all the prunable groups' channels together
     * @param criterion which channels go first
     * @param channelMultiple the channels a group keeps are rounded to a multiple of this when the group has a multiple of it;
     *        1: exact
     * @param excludePatterns layers left alone: globs, or {@code regex:} expressions, as {@link io.condense.sdk.model.LayerSelection} reads them
     * @param minElements layers whose weight has fewer elements are left alone
     * @param global one threshold over the scores of all groups decides how many channels each loses (network slimming's
     *        global threshold; {@link ChannelCriterion#BN_SCALE} only, whose scores are comparable across layers), every
     *        group keeping at least a tenth of its channels ({@link GlobalChannelBudget}); false: every group loses the share
     */
    public record Request(double sparsity, ChannelCriterion criterion, int channelMultiple, List<String> excludePatterns,
            long minElements, boolean global) {
        public Request {
            if (!(sparsity >= 0 && sparsity < 1)) {
                throw new IllegalArgumentException("sparsity must be in [0, 1), got " + sparsity);
            }
            requireNonNull(criterion, "criterion is null");
            if (channelMultiple < 1) {
                throw new IllegalArgumentException("channelMultiple must be at least 1, got " + channelMultiple);
            }
            excludePatterns = List.copyOf(requireNonNull(excludePatterns, "excludePatterns is null"));
            if (minElements < 0) {
                throw new IllegalArgumentException("minElements must be at least 0, got " + minElements);
            }
            if (global && !criterion.comparableAcrossLayers()) {
                throw new IllegalArgumentException("a global threshold needs scores comparable across layers (bn_scale), not "
                        + criterion.parameterName());
            }
        }

        /** Every group loses the same share (per-layer scope). */
        public Request(double sparsity, ChannelCriterion criterion, int channelMultiple, List<String> excludePatterns, long minElements) {
            this(sparsity, criterion, channelMultiple, excludePatterns, minElements, false);
        }

        /**
         * Every hidden layer keeps {@code width} of its output channels, exactly (l1 norm, no rounding to a multiple, no
         * layer left alone for its size).
         */
        public static Request narrowing(double width) {
            if (!(width > 0 && width <= 1)) {
                throw new IllegalArgumentException("width must be in (0, 1], got " + width);
            }
            return new Request(1 - width, ChannelCriterion.L1, 1, List.of(), 0);
        }
    }

    /**
     * A pruned model and what changed: {@code criterion}, {@code target_sparsity}, {@code channel_multiple},
     * {@code channel_sparsity}, {@code groups_pruned}, {@code groups_refused}, {@code layers_pruned}, channels, parameters,
     * MACs and model bytes before and after, {@code refused} (each group left alone with its reason), and a layer entry for
     * every layer that changed or belongs to a prunable group.
     */
    public record Result(OnnxModel model, Report report) {
        public Result {
            requireNonNull(model, "model is null");
            requireNonNull(report, "report is null");
        }
    }

    private ChannelPruner() {
    }

    /**
     * Prunes {@code model}'s channels as {@code request} says; {@code model} is not changed.
     *
     * @param context progress and cancellation
     * @throws CondenseException NOTHING_TO_COMPRESS (message starting "nothing to prune by channels: ") when the model has no
     *         layer whose channels can be removed safely
     */
    public static Result prune(OnnxModel model, Request request, StepContext context) {
        requireNonNull(model, "model is null");
        requireNonNull(request, "request is null");
        requireNonNull(context, "context is null");

        // weights reshaped at run time become constants the layers read directly (nothing is computed differently)
        OnnxModel source = prepare(model);
        context.progress(0.0, "analysing channel dependencies");
        ChannelDependencies dependencies = analyze(model, source, request);
        Plan plan = plan(dependencies, request, context);
        checkPrunable(dependencies, plan);
        OnnxModel prepared = source;
        // what the removed channels still contributed (a BatchNormalization shift) goes into the next layers' biases
        RemovedChannelFolding.Result folding = RemovedChannelFolding.fold(source, dependencies, plan.kept());
        if (folding.changed()) {
            source = folding.model();
            dependencies = analyze(model, source, request);
            plan = plan(dependencies, request, context);
        }
        Map<Integer, int[]> kept = plan.kept();

        // slice every constant once per axis, then write the edited model
        for (Slice slice : dependencies.slices()) {
            int[] indices = keptFeatures(dependencies, slice.layout(), kept);
            if (indices == null) {
                continue;
            }
            ConstantTensor tensor = dependencies.constant(slice.constant());
            long length = tensor.shape()[slice.axis()];
            if (length != ChannelDependencies.features(slice.layout())) {
                throw new CondenseException(ErrorCode.INTERNAL_ERROR, "channel pruning: '" + slice.constant() + "' has " + length
                        + " entries along axis " + slice.axis() + " but its layout has " + ChannelDependencies.features(slice.layout()));
            }
            tensor.keep(slice.axis(), indices);
        }
        ModelEditor editor = source.edit();
        Set<String> written = new LinkedHashSet<>();
        for (Slice slice : dependencies.slices()) {
            ConstantTensor tensor = dependencies.constant(slice.constant());
            if (tensor.changed() && written.add(slice.constant())) {
                tensor.write(editor);
            }
        }
        for (ChannelDependencies.GroupAttribute attribute : dependencies.groupAttributes()) {
            int[] indices = keptFeatures(dependencies, attribute.layout(), kept);
            if (indices != null) {
                NodeProto node = editor.node(attribute.nodeIndex());
                NodeProto.Builder builder = node.toBuilder().clearAttribute();
                for (AttributeProto value : node.getAttributeList()) {
                    builder.addAttribute(value.getName().equals("group") ? value.toBuilder().setI(indices.length).build() : value);
                }
                editor.replaceNode(attribute.nodeIndex(), builder.build());
            }
        }
        for (ChannelDependencies.ReshapeTarget target : dependencies.reshapeTargets()) {
            int[] indices = keptFeatures(dependencies, target.layout(), kept);
            if (indices != null) {
                long[] shape = target.target().clone();
                shape[1] = indices.length;
                String name = editor.uniqueName(source.nodes().get(target.nodeIndex()).getInput(1) + "_pruned");
                editor.putInitializer(Tensor.fromLongs(name, new long[] {2}, shape).toProto());
                NodeProto node = editor.node(target.nodeIndex());
                editor.replaceNode(target.nodeIndex(), node.toBuilder().setInput(1, name).build());
            }
        }
        OnnxModel built = editor.build();
        // shapes recorded by the exporter no longer hold for the pruned values: let the runtime infer them again
        ModelProto proto = built.proto().toBuilder().setGraph(built.graph().toBuilder().clearValueInfo()).build();
        OnnxModel pruned = OnnxModel.of(proto);
        context.progress(0.9, "pruned " + kept.size() + " channel groups");

        return new Result(pruned, report(model, prepared, pruned, dependencies, plan, request, folding));
    }

    /**
     * {@code model} with every hidden Conv, Gemm and MatMul layer cut to {@code width} of its output channels
     * ({@link Request#narrowing}): a narrower network whose kept channels start from the model's weights.
     *
     * @throws CondenseException NOTHING_TO_COMPRESS when no layer can be narrowed
     */
    public static OnnxModel narrow(OnnxModel model, double width, StepContext context) {
        return prune(model, Request.narrowing(width), context).model();
    }

    /**
     * {@code model} computing what {@link #prune} would make of it, without removing anything: every shape stays, and the
     * weights with which the next layers read the channels prune would remove are zero. The pruned model computes the same
     * outputs (up to rounding), which is how the graph surgery is checked; it is also the masked model to train with fixed
     * channel masks.
     *
     * @throws CondenseException NOTHING_TO_COMPRESS as {@link #prune}
     */
    public static OnnxModel masked(OnnxModel model, Request request, StepContext context) {
        requireNonNull(model, "model is null");
        requireNonNull(request, "request is null");
        requireNonNull(context, "context is null");
        OnnxModel source = prepare(model);
        ChannelDependencies dependencies = analyze(model, source, request);
        Plan plan = plan(dependencies, request, context);
        checkPrunable(dependencies, plan);
        source = RemovedChannelFolding.fold(source, dependencies, plan.kept()).model();
        ModelEditor editor = source.edit();
        for (Slice slice : dependencies.slices()) {
            if (slice.role() != ChannelDependencies.Role.INPUTS) {
                continue;
            }
            int[] indices = keptFeatures(dependencies, slice.layout(), plan.kept());
            if (indices == null) {
                continue;
            }
            boolean[] keep = new boolean[Math.toIntExact(ChannelDependencies.features(slice.layout()))];
            for (int index : indices) {
                keep[index] = true;
            }
            Tensor weight = source.tensor(slice.constant());
            long[] shape = weight.shape();
            float[] values = weight.toFloatArray();
            int length = Math.toIntExact(shape[slice.axis()]);
            int inner = Math.toIntExact(ConstantTensor.product(shape, slice.axis() + 1, shape.length));
            for (int i = 0; i < values.length; i++) {
                if (!keep[(i / inner) % length]) {
                    values[i] = 0f;
                }
            }
            editor.putInitializer(Tensor.fromFloats(slice.constant(), DataType.FLOAT, shape, values).toProto());
        }
        return editor.build();
    }

    private static ChannelDependencies analyze(OnnxModel model, OnnxModel source, Request request) {
        ChannelDependencies dependencies = ChannelDependencies.analyze(source, request.excludePatterns(), request.minElements());
        if (dependencies.candidateLayers() == 0) {
            throw new CondenseException(ErrorCode.NOTHING_TO_COMPRESS, "nothing to prune by channels: channel pruning removes output "
                    + "channels of Conv, Gemm or MatMul layers and the model has none; it has " + ModelContents.describe(model)
                    + ". Use unstructured pruning or another technique for this model");
        }
        return dependencies;
    }

    private static void checkPrunable(ChannelDependencies dependencies, Plan plan) {
        if (plan.channelsBefore() == 0) {
            throw new CondenseException(ErrorCode.NOTHING_TO_COMPRESS, "nothing to prune by channels: none of the "
                    + dependencies.rootGroups().size() + " channel groups can be pruned safely (" + reasons(plan.refused())
                    + "); change exclude or min_elements, or use unstructured pruning");
        }
    }

    /** Which channels each prunable group keeps (by root group id), and the groups refused with their reasons. */
    record Plan(Map<Integer, int[]> kept, List<Map<String, Object>> refused, long channelsBefore, long channelsAfter) {
    }

    /** The model channel pruning works on: constant reshapes of weights folded into constants (nothing computes differently). */
    static OnnxModel prepare(OnnxModel model) {
        return UniformConstants.fold(model.edit().foldConstantReshapes().build());
    }

    /**
     * How many of a group's channels stay: round(S x C) go, at least one stays; when the group has a multiple of
     * {@code multiple} channels (and more than that), the count kept is rounded to the nearest multiple of it, at least one
     * multiple (ONNX Runtime's blocked convolution kernels want channel counts in multiples of 8: UltraFace with 61 of 64
     * channels runs twice as slow as the original).
     */
    public static int keptCount(int channels, double sparsity, int multiple) {
        int kept = (int) Math.max(1, channels - Math.round(sparsity * channels));
        if (multiple > 1 && channels % multiple == 0 && channels > multiple) {
            kept = (int) Math.min(channels, Math.max(multiple, Math.round((double) kept / multiple) * multiple));
        }
        return kept;
    }

    static Plan plan(ChannelDependencies dependencies, Request request, StepContext context) {
        ChannelCriterion criterion = request.criterion();
        List<Group> roots = dependencies.rootGroups();
        List<Map<String, Object>> refused = new ArrayList<>();
        List<Group> prunable = new ArrayList<>();
        List<double[]> scores = new ArrayList<>();
        for (int i = 0; i < roots.size(); i++) {
            context.checkCancelled();
            Group group = roots.get(i);
            if (group.blockedReason == null && criterion == ChannelCriterion.BN_SCALE && group.batchNormScales.isEmpty()) {
                group.blockedReason = "criterion bn_scale needs a BatchNormalization right after the layer, and none follows "
                        + producerNames(group) + " (criterion l1, l2 or fpgm prunes layers without one)";
            }
            if (group.blockedReason != null) {
                Map<String, Object> entry = new LinkedHashMap<>();
                entry.put("layers", producerNames(group));
                entry.put("channels", group.channels);
                entry.put("reason", group.blockedReason);
                refused.add(entry);
                continue;
            }
            prunable.add(group);
            scores.add(scores(dependencies, group, criterion));
            context.progress(0.1 + 0.5 * (i + 1) / roots.size(), "scored " + producerNames(group));
        }
        int[] counts = new int[prunable.size()];
        if (request.global()) {
            counts = GlobalChannelBudget.keptCounts(scores, request.sparsity(), request.channelMultiple());
        } else {
            for (int g = 0; g < counts.length; g++) {
                counts[g] = keptCount(prunable.get(g).channels, request.sparsity(), request.channelMultiple());
            }
        }
        Map<Integer, int[]> kept = new HashMap<>();
        long channelsBefore = 0;
        long channelsAfter = 0;
        for (int g = 0; g < counts.length; g++) {
            Group group = prunable.get(g);
            channelsBefore += group.channels;
            channelsAfter += counts[g];
            if (counts[g] < group.channels) {
                kept.put(group.id, keep(scores.get(g), counts[g]));
            }
        }
        return new Plan(kept, refused, channelsBefore, channelsAfter);
    }

    private static Report report(OnnxModel original, OnnxModel source, OnnxModel pruned, ChannelDependencies dependencies,
            Plan plan, Request request, RemovedChannelFolding.Result folding) {
        Map<Integer, int[]> kept = plan.kept();
        long channelsBefore = plan.channelsBefore();
        long channelsAfter = plan.channelsAfter();
        ModelStats statsBefore = ModelStats.of(source);
        ModelStats statsAfter = ModelStats.of(pruned);
        ShapeInference shapesBefore = ShapeInference.of(source);
        ShapeInference shapesAfter = ShapeInference.of(pruned);
        Map<String, NodeProto> prunedNodes = new HashMap<>();
        for (NodeProto node : pruned.nodes()) {
            prunedNodes.put(key(node), node);
        }
        Map<Integer, Double> producerSparsity = new HashMap<>();
        for (Group group : dependencies.rootGroups()) {
            int[] indices = kept.get(group.id);
            if (indices != null) {
                for (Producer producer : group.producers) {
                    producerSparsity.put(producer.nodeIndex(), 1.0 - (double) indices.length / group.channels);
                }
            }
        }
        // every layer whose weight changed, and every layer of a prunable group (even when it kept all its channels)
        Set<Integer> layerNodes = new TreeSet<>();
        for (Slice slice : dependencies.slices()) {
            if (slice.nodeIndex() >= 0 && dependencies.constant(slice.constant()).changed()) {
                layerNodes.add(slice.nodeIndex());
            }
        }
        int changedLayers = layerNodes.size();
        for (Group group : dependencies.rootGroups()) {
            if (group.blockedReason == null) {
                for (Producer producer : group.producers) {
                    layerNodes.add(producer.nodeIndex());
                }
            }
        }
        Report.Builder report = Report.builder();
        long macsBefore = 0;
        long macsAfter = 0;
        for (int index : layerNodes) {
            NodeProto before = source.nodes().get(index);
            NodeProto after = prunedNodes.get(key(before));
            Map<String, Object> layer = new LinkedHashMap<>();
            layer.put("name", key(before));
            layer.put("op", before.getOpType() + (NodeAttributes.getInt(before, "group", 1) > 1 ? " (group "
                    + NodeAttributes.getInt(before, "group", 1) + ")" : ""));
            layer.put("weight", before.getInput(1));
            layer.put("shape_before", dims(shapesBefore.shape(before.getInput(1))));
            layer.put("shape_after", after == null ? List.of() : dims(shapesAfter.shape(after.getInput(1))));
            layer.put("output_sparsity", producerSparsity.getOrDefault(index, 0.0));
            long parametersBefore = parameters(source, shapesBefore, before);
            long parametersAfter = after == null ? 0 : parameters(pruned, shapesAfter, after);
            layer.put("parameters_before", parametersBefore);
            layer.put("parameters_after", parametersAfter);
            layer.put("sparsity", parametersBefore == 0 ? 0.0 : 1.0 - (double) parametersAfter / parametersBefore);
            long nodeMacsBefore = statsBefore.macsByNode().getOrDefault(key(before), 0L);
            long nodeMacsAfter = statsAfter.macsByNode().getOrDefault(key(before), 0L);
            macsBefore += nodeMacsBefore;
            macsAfter += nodeMacsAfter;
            layer.put("macs_before", nodeMacsBefore);
            layer.put("macs_after", nodeMacsAfter);
            report.addLayer(layer);
        }
        long parametersBefore = totalParameters(source, shapesBefore, statsBefore);
        long parametersAfter = totalParameters(pruned, shapesAfter, statsAfter);
        report.put("criterion", request.criterion().parameterName())
                .put("scope", request.global() ? "global" : "layer")
                .put("target_sparsity", request.sparsity())
                .put("channel_multiple", request.channelMultiple())
                .put("channel_sparsity", channelsBefore == 0 ? 0.0 : 1.0 - (double) channelsAfter / channelsBefore)
                .put("groups_pruned", kept.size())
                .put("groups_refused", plan.refused().size())
                .put("layers_pruned", changedLayers)
                .put("channels_before", channelsBefore)
                .put("channels_after", channelsAfter)
                .put("parameters_before", parametersBefore)
                .put("parameters_after", parametersAfter)
                .put("parameter_reduction", parametersBefore == 0 ? 0.0 : 1.0 - (double) parametersAfter / parametersBefore)
                .put("macs_before", statsBefore.macs())
                .put("macs_after", statsAfter.macs())
                .put("mac_reduction", statsBefore.macs() == 0 ? 0.0 : 1.0 - (double) statsAfter.macs() / statsBefore.macs())
                .put("pruned_layer_macs_before", macsBefore)
                .put("pruned_layer_macs_after", macsAfter)
                .put("model_bytes_before", original.serializedSize())
                .put("model_bytes_after", pruned.serializedSize())
                .put("constants_folded", folding.folded())
                .put("constants_not_folded", folding.notFolded())
                .put("biases_folded_into", folding.layers())
                .put("refused", plan.refused());
        return report.build();
    }

    /**
     * Channel scores of a group, summed over its producers; for bn_scale the mean |scale| over its BatchNormalizations (a
     * residual group has several), so that groups compare on one scale under a global threshold.
     */
    private static double[] scores(ChannelDependencies dependencies, Group group, ChannelCriterion criterion) {
        double[] scores = new double[group.channels];
        if (criterion == ChannelCriterion.BN_SCALE) {
            for (String scale : group.batchNormScales) {
                float[] gamma = dependencies.constant(scale).values();
                for (int c = 0; c < scores.length; c++) {
                    scores[c] += Math.abs(gamma[c]) / group.batchNormScales.size();
                }
            }
            return scores;
        }
        for (Producer producer : group.producers) {
            ConstantTensor weight = dependencies.constant(producer.weight());
            long[] shape = weight.originalShape();
            if (weight.uniform()) {
                // a ConstantOfShape weight: every channel scores the same, no need to materialize it
                double score = criterion.uniformScore(weight.fill(), ConstantTensor.product(shape, 0, shape.length) / shape[producer.weightAxis()]);
                for (int c = 0; c < scores.length; c++) {
                    scores[c] += score;
                }
                continue;
            }
            criterion.addWeightScores(weight.values(), shape, producer.weightAxis(), scores);
        }
        return scores;
    }

    /** The {@code count} best channels in ascending index order (ties keep the lower index). */
    static int[] keep(double[] scores, int count) {
        Integer[] order = new Integer[scores.length];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        Arrays.sort(order, (a, b) -> {
            int byScore = Double.compare(scores[b], scores[a]);
            return byScore != 0 ? byScore : Integer.compare(a, b);
        });
        int[] kept = new int[count];
        for (int i = 0; i < count; i++) {
            kept[i] = order[i];
        }
        Arrays.sort(kept);
        return kept;
    }

    /** The features of a layout that stay, or null when none of its groups loses a channel. */
    static int[] keptFeatures(ChannelDependencies dependencies, List<Segment> layout, Map<Integer, int[]> kept) {
        boolean changed = false;
        int total = 0;
        for (Segment segment : layout) {
            int[] indices = kept.get(dependencies.root(segment.group()).id);
            changed |= indices != null;
            total += (indices == null ? segment.channels() : indices.length) * segment.factor();
        }
        if (!changed) {
            return null;
        }
        int[] features = new int[total];
        int next = 0;
        int offset = 0;
        for (Segment segment : layout) {
            int[] indices = kept.get(dependencies.root(segment.group()).id);
            int factor = segment.factor();
            int count = indices == null ? segment.channels() : indices.length;
            for (int k = 0; k < count; k++) {
                int channel = indices == null ? k : indices[k];
                for (int f = 0; f < factor; f++) {
                    features[next++] = offset + channel * factor + f;
                }
            }
            offset += segment.features();
        }
        return features;
    }

    private static long parameters(OnnxModel model, ShapeInference shapes, NodeProto node) {
        long total = 0;
        for (int i = 1; i < node.getInputCount(); i++) {
            String input = node.getInput(i);
            if (input.isEmpty()) {
                continue;
            }
            boolean constant = model.isInitializer(input);
            int producer = model.producerIndex(input);
            if (producer >= 0) {
                String op = model.nodes().get(producer).getOpType();
                constant = op.equals("Constant") || op.equals("ConstantOfShape");
            }
            Optional<long[]> shape = shapes.shape(input);
            if (constant && shape.isPresent()) {
                total += ConstantTensor.product(shape.get(), 0, shape.get().length);
            }
        }
        return total;
    }

    /** Initializer elements plus the elements ConstantOfShape nodes make (the onnx_light models' weights). */
    private static long totalParameters(OnnxModel model, ShapeInference shapes, ModelStats stats) {
        long total = stats.parameters();
        for (NodeProto node : model.nodes()) {
            if (node.getOpType().equals("ConstantOfShape")) {
                Optional<long[]> shape = shapes.shape(node.getOutput(0));
                if (shape.isPresent()) {
                    total += ConstantTensor.product(shape.get(), 0, shape.get().length);
                }
            }
        }
        return total;
    }

    private static List<Long> dims(Optional<long[]> shape) {
        List<Long> dims = new ArrayList<>();
        shape.ifPresent(values -> Arrays.stream(values).forEach(dims::add));
        return dims;
    }

    private static String key(NodeProto node) {
        return node.getName().isEmpty() ? node.getOutput(0) : node.getName();
    }

    private static String producerNames(Group group) {
        List<String> names = new ArrayList<>();
        for (Producer producer : group.producers) {
            names.add(producer.label());
        }
        return String.join(", ", names);
    }

    private static String reasons(List<Map<String, Object>> refused) {
        Map<String, Integer> counts = new LinkedHashMap<>();
        for (Map<String, Object> entry : refused) {
            counts.merge((String) entry.get("reason"), 1, Integer::sum);
        }
        List<String> parts = new ArrayList<>();
        counts.entrySet().stream().limit(5).forEach(entry -> parts.add(entry.getKey() + (entry.getValue() > 1 ? " (x" + entry.getValue() + ")" : "")));
        if (counts.size() > 5) {
            parts.add((counts.size() - 5) + " more reasons");
        }
        return String.join("; ", parts);
    }
}
