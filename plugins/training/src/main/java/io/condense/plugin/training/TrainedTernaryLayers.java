package io.condense.plugin.training;

import static java.util.Objects.requireNonNull;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.model.ModelEditor;
import io.condense.sdk.model.NodeAttributes;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.tensor.DataType;
import io.condense.sdk.tensor.Tensor;
import io.condense.sdk.training.TrainingOperators;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Trained ternary quantization (TTQ, Zhu et al. 2017) in {@code finetune}: the layers {@code ternarize(method=ttq)}
 * writes, a {@code Sum} of two DequantizeLinear nodes with one scalar scale each, int8 positive levels {0, +1} and
 * negative levels {-1, 0} on disjoint elements. In the training graph the pair becomes one
 * {@link TrainingOperators#TRAINED_TERNARY} node on a float latent (the paper's latent weights scaled to [-1, 1], the
 * magnitudes in the scales: the float weights {@code ternarize(method=ttq)} kept in the file, divided by their largest magnitude,
 * else the levels {@code +1, 0, -1})
 * with the two scales trainable: every step re-draws the masks from the latent ({@code |latent| > t x max |latent|}),
 * the scales get the sums of their regions' gradients (times 1 / elements, {@link #scaleGradient}) and the latent the
 * paper's scaled gradient (or the plain one, {@link Rule#plainLatentGradient}). The zeros are the
 * method's own and move with the latent, so {@code keep_zeros} does not freeze them. Written back as the same two level
 * tensors and scales, re-drawn from the trained latent with the same threshold.
 */
final class TrainedTernaryLayers {
    /** The TTQ paper's threshold factor (t = 0.05), finetune's default. */
    static final double DEFAULT_THRESHOLD = 0.05;
    /** The paper's rule: t = 0.05, the latent's gradient scaled by region. */
    static final Rule PAPER = new Rule(DEFAULT_THRESHOLD, false);

    /**
     * How TTQ layers train.
     *
     * @param threshold the factor t (the masks are {@code |latent| > t x max |latent|})
     * @param plainLatentGradient the latent gets the output gradient as it is (the straight-through estimator of
     *        BinaryConnect and TWN) instead of the paper's gradient scaled by {@code Wp}, 1 or {@code Wn} per region
     */
    record Rule(double threshold, boolean plainLatentGradient) {
        Rule {
            if (!(threshold >= 0 && threshold < 1)) {
                throw new IllegalArgumentException("threshold must be in [0, 1), got " + threshold);
            }
        }
    }

    /** One TTQ layer as found in the input: the Sum and its two DequantizeLinear nodes. */
    record Found(int sumIndex, int positiveIndex, int negativeIndex, String positiveLevels, String negativeLevels, String positiveScale,
            String negativeScale, String zeroPoint, long[] shape, int[] positive, int[] negative, float[] positiveBefore, float[] negativeBefore,
            String output, String carriedLatent, int axis) {
        /** Whether the scales are per output channel (along {@link #axis}) rather than one per layer. */
        boolean perChannel() {
            return positiveBefore.length > 1;
        }
    }

    /** One TTQ layer in the training graph. */
    record Layer(Found found, String latent, float threshold) {
        Layer {
            requireNonNull(found, "found is null");
            requireNonNull(latent, "latent is null");
        }
    }

    private TrainedTernaryLayers() {
    }

    /** Whether the model has a TTQ layer ({@link #find}), without building its training graph. */
    static boolean present(OnnxModel model) {
        return !find(model, TrainingGraph.readers(model)).isEmpty();
    }

    /** Every Sum of exactly a positive and a negative TTQ basis whose levels, scales and outputs nothing else reads. */
    static List<Found> find(OnnxModel model, Map<String, Integer> readers) {
        List<NodeProto> nodes = model.nodes();
        Map<String, Integer> producers = new LinkedHashMap<>();
        for (int i = 0; i < nodes.size(); i++) {
            for (String output : nodes.get(i).getOutputList()) {
                producers.put(output, i);
            }
        }
        List<Found> found = new ArrayList<>();
        for (int i = 0; i < nodes.size(); i++) {
            NodeProto sum = nodes.get(i);
            if (!sum.getOpType().equals("Sum") || sum.getInputCount() != 2) {
                continue;
            }
            Optional<Basis> first = basis(model, nodes, producers, readers, sum.getInput(0));
            Optional<Basis> second = basis(model, nodes, producers, readers, sum.getInput(1));
            if (first.isEmpty() || second.isEmpty()) {
                continue;
            }
            Basis positive = first.get().sign() > 0 ? first.get() : second.get();
            Basis negative = first.get().sign() > 0 ? second.get() : first.get();
            if (positive.sign() <= 0 || negative.sign() >= 0 || !java.util.Arrays.equals(positive.shape(), negative.shape())
                    || !positive.zeroPoint().equals(negative.zeroPoint()) || positive.scaleValues().length != negative.scaleValues().length
                    || positive.axis() != negative.axis()) {
                continue;
            }
            boolean disjoint = true;
            for (int j = 0; j < positive.levels().length && disjoint; j++) {
                disjoint = positive.levels()[j] == 0 || negative.levels()[j] == 0;
            }
            if (disjoint) {
                found.add(new Found(i, positive.node(), negative.node(), positive.name(), negative.name(), positive.scale(), negative.scale(),
                        positive.zeroPoint(), positive.shape(), positive.levels(), negative.levels(), positive.scaleValues(),
                        negative.scaleValues(), sum.getOutput(0), carriedLatent(model, readers, positive), positive.axis()));
            }
        }
        return List.copyOf(found);
    }

    /**
     * The float weights {@code ternarize(method=ttq)} kept for this layer ({@link TrainingOperators#TTQ_LATENT_SUFFIX}: a float
     * initializer of the levels' shape that no node reads), or "" when the file has none (written with ttq_latents=false,
     * or by an older version).
     */
    private static String carriedLatent(OnnxModel model, Map<String, Integer> readers, Basis positive) {
        String name = positive.name() + TrainingOperators.TTQ_LATENT_SUFFIX;
        if (!model.isInitializer(name) || readers.getOrDefault(name, 0) != 0) {
            return "";
        }
        Tensor latent = model.tensor(name);
        if (latent.dataType() != DataType.FLOAT || !java.util.Arrays.equals(latent.shape(), positive.shape())) {
            return "";
        }
        return name;
    }

    /**
     * A DequantizeLinear of int8 levels within {0, +1} (sign 1) or {-1, 0} (sign -1), a float scale (a scalar, or one per
     * entry along the node's axis), zero points 0.
     */
    private record Basis(int node, String name, String scale, float[] scaleValues, String zeroPoint, long[] shape, int[] levels, int sign,
            int axis) {
    }

    private static Optional<Basis> basis(OnnxModel model, List<NodeProto> nodes, Map<String, Integer> producers, Map<String, Integer> readers,
            String value) {
        Integer index = producers.get(value);
        if (index == null || readers.getOrDefault(value, 0) != 1) {
            return Optional.empty();
        }
        NodeProto node = nodes.get(index);
        if (!node.getOpType().equals("DequantizeLinear") || node.getInputCount() < 2 || !model.isInitializer(node.getInput(0))
                || !model.isInitializer(node.getInput(1)) || readers.getOrDefault(node.getInput(0), 0) != 1
                || readers.getOrDefault(node.getInput(1), 0) != 1) {
            return Optional.empty();
        }
        Tensor levels = model.tensor(node.getInput(0));
        Tensor scale = model.tensor(node.getInput(1));
        if (levels.dataType() != DataType.INT8 || scale.dataType() != DataType.FLOAT || NodeAttributes.getInt(node, "block_size", 0) != 0) {
            return Optional.empty();
        }
        int axis = -1;
        if (scale.elementCount() != 1) {
            long rank = levels.shape().length;
            long attribute = NodeAttributes.getInt(node, "axis", 1);
            axis = (int) (attribute < 0 ? attribute + rank : attribute);
            if (scale.shape().length != 1 || axis < 0 || axis >= rank || scale.elementCount() != levels.shape()[axis]) {
                return Optional.empty();
            }
        }
        String zeroPoint = node.getInputCount() > 2 ? node.getInput(2) : "";
        if (!zeroPoint.isEmpty() && (!model.isInitializer(zeroPoint) || model.tensor(zeroPoint).elementCount() != scale.elementCount()
                || java.util.Arrays.stream(model.tensor(zeroPoint).toIntArray()).anyMatch(point -> point != 0))) {
            return Optional.empty();
        }
        int[] values = levels.toIntArray();
        boolean positive = false;
        boolean negative = false;
        for (int level : values) {
            if (level < -1 || level > 1) {
                return Optional.empty();
            }
            positive |= level > 0;
            negative |= level < 0;
        }
        if (positive == negative) {
            return Optional.empty();
        }
        return Optional.of(new Basis(index, node.getInput(0), node.getInput(1), scale.toFloatArray(), zeroPoint, levels.shape(), values,
                positive ? 1 : -1, axis));
    }

    /**
     * Replaces the pair by a {@link TrainingOperators#TRAINED_TERNARY} node writing the Sum's output on one float latent in
     * [-1, 1], as the paper scales its latent weights: the float weights the file carries divided by their largest
     * magnitude, else the levels {@code +1, 0, -1}; the DequantizeLinear nodes and the carried weights go.
     */
    static Layer rewrite(OnnxModel model, ModelEditor editor, Found found, Rule rule) {
        float[] latent = startingLatent(model, found);
        if (!found.carriedLatent().isEmpty()) {
            editor.removeInitializer(found.carriedLatent());
        }
        String latentName = editor.uniqueName(found.positiveLevels() + "_latent");
        editor.removeInitializer(found.positiveLevels());
        editor.removeInitializer(found.negativeLevels());
        if (!found.zeroPoint().isEmpty()) {
            editor.removeInitializer(found.zeroPoint());
        }
        editor.putInitializer(Tensor.fromFloats(latentName, DataType.FLOAT, found.shape(), latent).toProto());
        float threshold = (float) rule.threshold();
        NodeProto.Builder node = NodeProto.newBuilder().setOpType(TrainingOperators.TRAINED_TERNARY)
                .setDomain(TrainingOperators.DOMAIN).setName(editor.uniqueName(found.positiveLevels() + "_TrainedTernary"))
                .addInput(latentName).addInput(found.positiveScale()).addInput(found.negativeScale()).addOutput(found.output())
                .addAttribute(AttributeProto.newBuilder().setName(TrainingOperators.THRESHOLD).setType(AttributeProto.AttributeType.FLOAT)
                        .setF(threshold))
                .addAttribute(AttributeProto.newBuilder().setName(TrainingOperators.SCALE_GRADIENT)
                        .setType(AttributeProto.AttributeType.FLOAT).setF(scaleGradient(latent.length / found.positiveBefore().length)));
        if (rule.plainLatentGradient()) {
            node.addAttribute(AttributeProto.newBuilder().setName(TrainingOperators.LATENT_GRADIENT)
                    .setType(AttributeProto.AttributeType.STRING).setS(com.google.protobuf.ByteString.copyFromUtf8(TrainingOperators.PLAIN)));
        }
        if (found.perChannel()) {
            node.addAttribute(AttributeProto.newBuilder().setName(TrainingOperators.AXIS).setType(AttributeProto.AttributeType.INT)
                    .setI(found.axis()));
        }
        editor.replaceNode(found.sumIndex(), node.build());
        editor.removeNode(found.positiveIndex());
        editor.removeNode(found.negativeIndex());
        return new Layer(found, latentName, threshold);
    }

    /**
     * The paper's latent: full-precision weights scaled to [-1, 1] (the scales carry the magnitudes). From the float
     * weights the file carries when it does (their masks at the threshold are then the levels' own, when ternarize and
     * finetune use the same factor), else the levels.
     */
    static float[] startingLatent(OnnxModel model, Found found) {
        float[] latent = new float[found.positive().length];
        if (found.carriedLatent().isEmpty()) {
            for (int j = 0; j < latent.length; j++) {
                latent[j] = found.positive()[j] + found.negative()[j];
            }
            return latent;
        }
        float[] weights = model.tensor(found.carriedLatent()).toFloatArray();
        float maximum = 0f;
        for (float weight : weights) {
            if (!Float.isFinite(weight)) {
                throw new CondenseException(ErrorCode.UNSUPPORTED_MODEL, "the float weights kept for TTQ in '" + found.carriedLatent()
                        + "' hold " + weight + "; ternarize the float model again");
            }
            maximum = Math.max(maximum, Math.abs(weight));
        }
        for (int j = 0; j < latent.length; j++) {
            latent[j] = maximum == 0f ? 0f : weights[j] / maximum;
        }
        return latent;
    }

    /**
     * The factor on the scales' gradients: 1 / elements, so each scale gets the mean of its region's gradients over the
     * layer. A scale multiplies every weight of its side at once: the loss's curvature along it grows with the square of
     * their count, and the paper's raw sums (or LSQ's 1 / sqrt(elements)) diverged under finetune's SGD: LeNet-300-100's
     * fc1 Wp went to -1,174 (raw sums, lr 0.01), pytorch_cnn_mnist's fc2 Wp to -238 and LeNet-5's conv2 Wp to -8,030
     * (1 / sqrt, lr 0.0005 and 0.02).
     */
    static float scaleGradient(int elements) {
        return 1f / Math.max(1, elements);
    }

    /**
     * Writes the trained layer into the input's form ({@code editor} edits the input): levels re-drawn from the latent with
     * the training threshold ({@code t x max |latent|}, in float32 as the trainer computes it), the trained scales; checks
     * the written value sets and returns the report entry.
     */
    static Map<String, Object> writeBack(Layer layer, OnnxModel trained, ModelEditor editor) {
        Found found = layer.found();
        float[] latent = trained.tensor(layer.latent()).toFloatArray();
        float[] positiveScales = trained.tensor(found.positiveScale()).toFloatArray();
        float[] negativeScales = trained.tensor(found.negativeScale()).toFloatArray();
        for (float[] scales : List.of(positiveScales, negativeScales)) {
            for (float scale : scales) {
                if (!Float.isFinite(scale) || scale < 0) {
                    throw new CondenseException(ErrorCode.INVALID_PARAMETER, "fine-tuning made a TTQ scale of '" + found.positiveLevels()
                            + "' " + scale + " (the positive and negative scales must stay positive); lower the learning rate");
                }
            }
        }
        float maximum = 0f;
        for (float value : latent) {
            maximum = Math.max(maximum, Math.abs(value));
        }
        float threshold = maximum * layer.threshold();
        int[] positive = new int[latent.length];
        int[] negative = new int[latent.length];
        long changed = 0;
        long zerosBefore = 0;
        long zerosAfter = 0;
        for (int j = 0; j < latent.length; j++) {
            positive[j] = latent[j] > threshold ? 1 : 0;
            negative[j] = latent[j] < -threshold ? -1 : 0;
            int before = found.positive()[j] + found.negative()[j];
            int after = positive[j] + negative[j];
            changed += before != after ? 1 : 0;
            zerosBefore += before == 0 ? 1 : 0;
            zerosAfter += after == 0 ? 1 : 0;
        }
        if (!found.carriedLatent().isEmpty()) {
            editor.removeInitializer(found.carriedLatent());
        }
        editor.putInitializer(Tensor.fromInts(found.positiveLevels(), DataType.INT8, found.shape(), positive).toProto());
        editor.putInitializer(Tensor.fromInts(found.negativeLevels(), DataType.INT8, found.shape(), negative).toProto());
        editor.putInitializer(Tensor.fromFloats(found.positiveScale(), DataType.FLOAT, trained.tensor(found.positiveScale()).shape(),
                positiveScales).toProto());
        editor.putInitializer(Tensor.fromFloats(found.negativeScale(), DataType.FLOAT, trained.tensor(found.negativeScale()).shape(),
                negativeScales).toProto());
        Map<String, Object> entry = new LinkedHashMap<>();
        entry.put("name", found.positiveLevels());
        entry.put("negative_levels", found.negativeLevels());
        entry.put("form", "ttq");
        entry.put("elements", (long) latent.length);
        entry.put("threshold_factor", (double) layer.threshold());
        entry.put("latent_start", found.carriedLatent().isEmpty() ? "levels" : "float_weights");
        // per channel: the means over the channels
        entry.put("scales", found.perChannel() ? "channel" : "layer");
        entry.put("positive_scale_before", mean(found.positiveBefore()));
        entry.put("positive_scale_after", mean(positiveScales));
        entry.put("negative_scale_before", mean(found.negativeBefore()));
        entry.put("negative_scale_after", mean(negativeScales));
        entry.put("levels_changed", changed);
        entry.put("zero_levels_before", zerosBefore);
        entry.put("zero_levels_after", zerosAfter);
        entry.put("scale_trained", true);
        entry.put("levels_kept", true);
        return entry;
    }

    private static double mean(float[] values) {
        double sum = 0;
        for (float value : values) {
            sum += value;
        }
        return sum / values.length;
    }

    /**
     * The written layer's value sets read back from {@code written}: positive levels within {0, +1}, negative within {-1, 0},
     * never both non-zero on one element; else {@code INTERNAL_ERROR}.
     */
    static void checkWritten(Layer layer, OnnxModel written) {
        int[] positive = written.tensor(layer.found().positiveLevels()).toIntArray();
        int[] negative = written.tensor(layer.found().negativeLevels()).toIntArray();
        for (int j = 0; j < positive.length; j++) {
            if (positive[j] < 0 || positive[j] > 1 || negative[j] < -1 || negative[j] > 0 || positive[j] != 0 && negative[j] != 0) {
                throw new CondenseException(ErrorCode.INTERNAL_ERROR, "finetune wrote TTQ levels " + positive[j] + " and " + negative[j]
                        + " at element " + j + " of '" + layer.found().positiveLevels() + "'; report this with the model");
            }
        }
    }
}
