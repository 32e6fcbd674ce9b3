package io.condense.plugin.training;

import static java.util.Objects.requireNonNull;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.model.ModelEditor;
import io.condense.sdk.model.NodeAttributes;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.training.TrainableInitializers;
import io.condense.sdk.training.TrainingOperators;
import io.condense.sdk.tensor.DataType;
import io.condense.sdk.tensor.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;

/**
 * The internal training form of a compressed model, and the way back. Never written out: only the host's trainer runs
 * it. Every DequantizeLinear of integer weight levels becomes a float latent weight behind fake quantization that keeps
 * the value set the input used; every int32 bias read through DequantizeLinear becomes a float latent; k-means codebooks
 * (Gather of a float table by constant indices) train as they are, the indices never change. {@link #writeBack} turns
 * the trained latents into levels of the original element types, shapes and names again and checks that every level
 * written is one the input allowed.
 *
 * <p>Forms, per levels tensor (the levels actually used, over the whole tensor):
 * <ul>
 *   <li>{@code binary}: int8 levels {-1, +1} with zero points 0 (binarize): {@code Sign(latent)} (straight-through,
 *       hard tanh) dequantized with the per-channel scale, which trains (TTQ's trained scales);</li>
 *   <li>{@code ternary}: int8 levels within {-1, 0, +1} with zero points 0 (ternarize): {@code QuantizeLinear} with a
 *       fixed copy of the input scale (the threshold stays half a step of the input scale in latent units),
 *       {@code Clip(lo, hi)}, {@code DequantizeLinear} with the trained scale;</li>
 *   <li>{@code qat}: any other contiguous level range [lo, hi] (int8 PTQ, uint4/uint8 blocks): the same chain with the
 *       input's scale, fixed, on both sides (classic QAT);</li>
 *   <li>refused: powers of two (pow2) and level sets that cover less than a quarter of their range.</li>
 * </ul>
 * TTQ layers ({@code ternarize(method=ttq)}: a Sum of a {0, +1} and a {-1, 0} basis with a scalar scale each) train as
 * {@link TrainedTernaryLayers} describes.
 */
final class TrainingGraph {
    private static final Set<DataType> LEVEL_TYPES = Set.of(DataType.INT8, DataType.UINT8, DataType.INT4, DataType.UINT4);

    enum Form {
        QAT("qat"), TERNARY("ternary"), BINARY("binary");

        final String label;

        Form(String label) {
            this.label = label;
        }
    }

    /** One DequantizeLinear of integer weight levels. */
    record QuantizedWeight(String levels, DataType type, long[] shape, int[] values, String scale, float[] scales, long[] scaleShape,
            String zeroPoint, int[] zeroPoints, int[] parameterIndex, int lo, int hi, int usedLevels, Form form, String latent,
            String quantizeScale, boolean scaleTrained, String output, boolean floatLatent) {
    }

    /** One DequantizeLinear of int32 bias levels. */
    record QuantizedBias(String levels, long[] shape, int[] values, String scale, float[] scales, String zeroPoint, int[] zeroPoints,
            int[] parameterIndex, String latent, Optional<QuantizedWeight> weight, boolean rescale, String activationScale) {
    }

    /** One k-means codebook: a float table read by Gather through constant indices. */
    record Codebook(String codebook, String indices) {
    }

    private final OnnxModel input;
    private final OnnxModel training;
    private final List<QuantizedWeight> weights;
    private final List<QuantizedBias> biases;
    private final List<Codebook> codebooks;
    private final List<TrainedTernaryLayers.Layer> ternaryLayers;
    private final List<LearnedStepSizes.ActivationStep> activationSteps;
    private final Optional<Set<String>> trainable;

    private TrainingGraph(OnnxModel input, OnnxModel training, List<QuantizedWeight> weights, List<QuantizedBias> biases,
            List<Codebook> codebooks, List<TrainedTernaryLayers.Layer> ternaryLayers, List<LearnedStepSizes.ActivationStep> activationSteps,
            Optional<Set<String>> trainable) {
        this.input = input;
        this.training = training;
        this.weights = weights;
        this.biases = biases;
        this.codebooks = codebooks;
        this.ternaryLayers = ternaryLayers;
        this.activationSteps = activationSteps;
        this.trainable = trainable;
    }

    OnnxModel model() {
        return training;
    }

    List<QuantizedWeight> weights() {
        return weights;
    }

    List<QuantizedBias> biases() {
        return biases;
    }

    List<Codebook> codebooks() {
        return codebooks;
    }

    /** The TTQ layers ({@code ternarize(method=ttq)}): one latent and two trained scales each. */
    List<TrainedTernaryLayers.Layer> ternaryLayers() {
        return ternaryLayers;
    }

    /** The activation scales that train ({@code learn_scales=true}, LSQ). */
    List<LearnedStepSizes.ActivationStep> activationSteps() {
        return activationSteps;
    }

    /**
     * Whether the model binarizes activations ({@code binarize(activations=1)}): a Sign node reads a computed value, not a
     * weight. Such a network trains through the Sign's clipped straight-through gradient, as TTQ's does through its masks.
     */
    boolean binaryActivations() {
        return input.nodes().stream().anyMatch(node -> node.getOpType().equals("Sign") && node.getInputCount() == 1
                && !input.isInitializer(node.getInput(0)));
    }

    /** Latents whose zeros the method re-draws every step (TTQ): {@code keep_zeros} does not freeze them. */
    Set<String> zerosRedrawn() {
        Set<String> names = new TreeSet<>();
        for (TrainedTernaryLayers.Layer layer : ternaryLayers) {
            names.add(layer.latent());
        }
        return names;
    }

    /** The trainable set when scales train too (binary, ternary, TTQ); empty means the trainer's default. */
    Optional<Set<String>> trainable() {
        return trainable;
    }

    boolean changed() {
        return !weights.isEmpty() || !biases.isEmpty() || !ternaryLayers.isEmpty() || !activationSteps.isEmpty();
    }

    /** The training form with TTQ layers trained by the paper's rule and fixed scales elsewhere. */
    static TrainingGraph of(OnnxModel model) {
        return of(model, TrainedTernaryLayers.PAPER, false);
    }

    /**
     * Builds the training form; a model without quantized weights is its own training form.
     *
     * @param ternary how TTQ layers train (threshold factor, latent gradient)
     * @param learnScales the scales of uniform ({@code qat}) weights and of static activations train too (LSQ,
     *        {@link LearnedStepSizes})
     */
    /** How many node inputs name each value. */
    static Map<String, Integer> readers(OnnxModel model) {
        Map<String, Integer> readers = new LinkedHashMap<>();
        for (NodeProto node : model.nodes()) {
            for (String name : node.getInputList()) {
                readers.merge(name, 1, Integer::sum);
            }
        }
        return readers;
    }

    static TrainingGraph of(OnnxModel model, TrainedTernaryLayers.Rule ternary, boolean learnScales) {
        requireNonNull(model, "model is null");
        List<NodeProto> nodes = model.nodes();
        Map<String, Integer> readers = readers(model);
        long opset = model.opsetVersion("").orElse(model.opsetVersion("ai.onnx").orElse(1L));
        ModelEditor editor = model.edit();
        List<TrainedTernaryLayers.Found> ternaryFound = TrainedTernaryLayers.find(model, readers);
        Set<Integer> ternaryNodes = new java.util.HashSet<>();
        for (TrainedTernaryLayers.Found found : ternaryFound) {
            ternaryNodes.add(found.positiveIndex());
            ternaryNodes.add(found.negativeIndex());
        }
        List<QuantizedWeight> weights = new ArrayList<>();
        Map<String, QuantizedWeight> weightByOutput = new LinkedHashMap<>();
        List<Integer> biasNodes = new ArrayList<>();
        for (int i = 0; i < nodes.size(); i++) {
            NodeProto node = nodes.get(i);
            if (!node.getOpType().equals("DequantizeLinear") || !model.isInitializer(node.getInput(0)) || ternaryNodes.contains(i)) {
                continue;
            }
            Tensor levels = model.tensor(node.getInput(0));
            if (levels.dataType() == DataType.INT32) {
                biasNodes.add(i);
                continue;
            }
            if (!LEVEL_TYPES.contains(levels.dataType())) {
                continue;
            }
            if (readers.getOrDefault(node.getInput(0), 0) > 1) {
                throw new CondenseException(ErrorCode.UNSUPPORTED_MODEL, "finetune cannot train the quantized weight '" + node.getInput(0)
                        + "': more than one node reads it, and its trained levels would have to serve each of them; fine-tune before "
                        + "the quantization step");
            }
            QuantizedWeight weight = rewriteWeight(model, editor, node, i, levels, readers, opset, learnScales);
            weights.add(weight);
            weightByOutput.put(weight.output(), weight);
        }
        List<QuantizedBias> biases = new ArrayList<>();
        for (int i : biasNodes) {
            biases.add(rewriteBias(model, editor, nodes.get(i), i, weightByOutput, learnScales));
        }
        List<LearnedStepSizes.ActivationStep> activationSteps = learnScales ? LearnedStepSizes.activations(model, editor) : List.of();
        List<TrainedTernaryLayers.Layer> ternaryLayers = new ArrayList<>();
        for (TrainedTernaryLayers.Found found : ternaryFound) {
            ternaryLayers.add(TrainedTernaryLayers.rewrite(model, editor, found, ternary));
        }
        List<Codebook> codebooks = codebooks(model);
        if (weights.isEmpty() && biases.isEmpty() && ternaryLayers.isEmpty() && activationSteps.isEmpty() && codebooks.isEmpty()) {
            return new TrainingGraph(model, model, List.of(), List.of(), codebooks, List.of(), List.of(), Optional.empty());
        }
        meanCodebookGradients(model, editor, codebooks);
        OnnxModel training = editor.build();
        Optional<Set<String>> trainable = Optional.empty();
        if (weights.stream().anyMatch(QuantizedWeight::scaleTrained) || !ternaryLayers.isEmpty() || !activationSteps.isEmpty()) {
            Set<String> names = defaultTrainable(training);
            for (QuantizedWeight weight : weights) {
                if (weight.scaleTrained()) {
                    names.add(weight.scale());
                }
            }
            for (TrainedTernaryLayers.Layer layer : ternaryLayers) {
                names.add(layer.found().positiveScale());
                names.add(layer.found().negativeScale());
            }
            activationSteps.forEach(step -> names.add(step.scale()));
            trainable = Optional.of(names);
        }
        return new TrainingGraph(model, training, List.copyOf(weights), List.copyOf(biases), codebooks, List.copyOf(ternaryLayers),
                activationSteps, trainable);
    }

    private static QuantizedWeight rewriteWeight(OnnxModel model, ModelEditor editor, NodeProto node, int index, Tensor levels,
            Map<String, Integer> readers, long opset, boolean learnScales) {
        String levelsName = node.getInput(0);
        String output = node.getOutput(0);
        long[] shape = levels.shape();
        int[] values = levels.toIntArray();
        if (node.getInputCount() < 2 || !model.isInitializer(node.getInput(1))) {
            throw new CondenseException(ErrorCode.UNSUPPORTED_MODEL, "finetune cannot train '" + levelsName + "': its DequantizeLinear "
                    + "reads a scale that is not an initializer");
        }
        String scaleName = node.getInput(1);
        Tensor scaleTensor = model.tensor(scaleName);
        float[] scales = scaleTensor.toFloatArray();
        String zeroPointName = node.getInputCount() > 2 ? node.getInput(2) : "";
        int[] zeroPoints;
        DataType zeroPointType;
        if (zeroPointName.isEmpty()) {
            zeroPoints = new int[scales.length];
            zeroPointType = levels.dataType();
        } else if (model.isInitializer(zeroPointName)) {
            Tensor zeroPointTensor = model.tensor(zeroPointName);
            zeroPoints = zeroPointTensor.toIntArray();
            zeroPointType = zeroPointTensor.dataType();
        } else {
            throw new CondenseException(ErrorCode.UNSUPPORTED_MODEL, "finetune cannot train '" + levelsName + "': its zero point is "
                    + "computed, not an initializer");
        }
        long blockSize = NodeAttributes.getInt(node, "block_size", 0);
        int axis = (int) NodeAttributes.getInt(node, "axis", 1);
        if (axis < 0) {
            axis += shape.length;
        }
        int[] parameterIndex = parameterIndex(levelsName, shape, scaleTensor.shape(), axis, blockSize);

        TreeSet<Integer> used = new TreeSet<>();
        boolean zeroPointsZero = true;
        for (int zeroPoint : zeroPoints) {
            zeroPointsZero &= zeroPoint == 0;
        }
        for (int value : values) {
            used.add(value);
        }
        int lo = used.isEmpty() ? 0 : used.first();
        int hi = used.isEmpty() ? 0 : used.last();
        Form form;
        boolean oneBitType = levels.dataType() == DataType.INT8 && zeroPointsZero && blockSize == 0;
        if (oneBitType && lo >= -1 && hi <= 1 && !used.contains(0) && used.size() == 2) {
            form = Form.BINARY;
        } else if (oneBitType && lo >= -1 && hi <= 1) {
            form = Form.TERNARY;
        } else {
            int range = hi - lo + 1;
            if (used.size() < range) {
                if (powersOfTwo(used, zeroPointsZero)) {
                    throw new CondenseException(ErrorCode.UNSUPPORTED_MODEL, "finetune cannot train '" + levelsName + "': its levels "
                            + used + " are zero and powers of two (quantize scheme=pow2), which fake quantization with uniform "
                            + "steps would not keep; fine-tune before the pow2 quantization, or quantize with scheme=uniform");
                }
                if (used.size() * 4L < range) {
                    throw new CondenseException(ErrorCode.UNSUPPORTED_MODEL, "finetune cannot train '" + levelsName + "': it uses "
                            + used.size() + " distinct levels spread over [" + lo + ", " + hi + "], not a uniform range it could keep; "
                            + "fine-tune before the step that wrote it");
                }
            }
            form = Form.QAT;
        }
        // trained scales need the scale to be this node's alone; uniform levels' scales train with learn_scales (LSQ)
        boolean scaleTrained = (form != Form.QAT || learnScales) && readers.getOrDefault(scaleName, 0) == 1
                && scaleTensor.dataType() == DataType.FLOAT;

        float[] latent = new float[values.length];
        for (int i = 0; i < values.length; i++) {
            int p = parameterIndex[i];
            latent[i] = (values[i] - zeroPoints[p]) * scales[p];
        }
        Optional<float[]> carried = form == Form.BINARY ? carriedBinaryLatent(model, readers, levelsName, shape, values) : Optional.empty();
        if (carried.isPresent()) {
            latent = carried.get();
        }
        String latentName = editor.uniqueName(levelsName + "_latent");
        editor.removeInitializer(levelsName);
        editor.putInitializer(Tensor.fromFloats(latentName, DataType.FLOAT, shape, latent).toProto());

        DataType trainingZeroPointType = zeroPointType == DataType.UINT8 || zeroPointType == DataType.UINT4 ? DataType.UINT8 : DataType.INT8;
        String trainingZeroPoint = editor.uniqueName(levelsName + "_training_zero_point");
        byte[] zeroPointBytes = new byte[zeroPoints.length];
        for (int i = 0; i < zeroPoints.length; i++) {
            zeroPointBytes[i] = (byte) zeroPoints[i];
        }
        editor.putInitializer(Tensor.fromRaw(trainingZeroPoint, trainingZeroPointType, scaleTensor.shape(), zeroPointBytes).toProto());

        String quantizeScale = scaleName;
        if (form == Form.TERNARY && scaleTrained) {
            // a fixed copy for QuantizeLinear (zeros as 1: such a channel's latents are 0 and stay at level 0)
            float[] fixed = scales.clone();
            for (int i = 0; i < fixed.length; i++) {
                if (!(fixed[i] > 0)) {
                    fixed[i] = 1;
                }
            }
            quantizeScale = editor.uniqueName(scaleName + "_fixed");
            editor.putInitializer(Tensor.fromFloats(quantizeScale, DataType.FLOAT, scaleTensor.shape(), fixed).toProto());
        }
        List<AttributeProto> attributes = new ArrayList<>();
        for (AttributeProto attribute : node.getAttributeList()) {
            if (attribute.getName().equals("axis") || attribute.getName().equals("block_size")) {
                attributes.add(attribute);
            }
        }
        // LSQ: QuantizeLinear and DequantizeLinear read the trained scale through its gradient scaling
        String readScale = form == Form.QAT && scaleTrained
                ? LearnedStepSizes.readThrough(editor, scaleName, latentName, LearnedStepSizes.positiveLevels(lo, hi), false) : scaleName;
        String quantized = editor.uniqueName(levelsName + "_fake_levels");
        String clipped = editor.uniqueName(levelsName + "_fake_clipped");
        if (form == Form.BINARY) {
            editor.addNode(NodeProto.newBuilder().setOpType("Sign").setName(editor.uniqueName(levelsName + "_Sign"))
                    .addInput(latentName).addOutput(clipped).build());
        } else {
            editor.addNode(NodeProto.newBuilder().setOpType("QuantizeLinear").setName(editor.uniqueName(levelsName + "_FakeQuantize"))
                    .addInput(latentName).addInput(readScale.equals(scaleName) ? quantizeScale : readScale).addInput(trainingZeroPoint)
                    .addOutput(quantized)
                    .addAllAttribute(attributes).build());
            NodeProto.Builder clip = NodeProto.newBuilder().setOpType("Clip").setName(editor.uniqueName(levelsName + "_Clip"))
                    .addInput(quantized).addOutput(clipped);
            if (opset >= 11) {
                String low = editor.uniqueName(levelsName + "_level_min");
                String high = editor.uniqueName(levelsName + "_level_max");
                editor.putInitializer(Tensor.fromFloats(low, DataType.FLOAT, new long[0], new float[] {lo}).toProto());
                editor.putInitializer(Tensor.fromFloats(high, DataType.FLOAT, new long[0], new float[] {hi}).toProto());
                clip.addInput(low).addInput(high);
            } else {
                clip.addAttribute(AttributeProto.newBuilder().setName("min").setType(AttributeProto.AttributeType.FLOAT).setF(lo));
                clip.addAttribute(AttributeProto.newBuilder().setName("max").setType(AttributeProto.AttributeType.FLOAT).setF(hi));
            }
            editor.addNode(clip.build());
        }
        editor.replaceNode(index, NodeProto.newBuilder(node).clearInput().addInput(clipped).addInput(readScale)
                .addInput(trainingZeroPoint).build());
        if (!zeroPointName.isEmpty() && readers.getOrDefault(zeroPointName, 0) == 1) {
            editor.removeInitializer(zeroPointName);
        }
        return new QuantizedWeight(levelsName, levels.dataType(), shape, values, scaleName, scales, scaleTensor.shape(), zeroPointName,
                zeroPoints, parameterIndex, lo, hi, used.size(), form, latentName, quantizeScale, scaleTrained, output, carried.isPresent());
    }

    /**
     * The float weights {@code binarize(activations=1)} kept for a binary levels tensor
     * ({@link TrainingOperators#BINARY_LATENT_SUFFIX}: a float initializer of the levels' shape that no node reads, whose
     * signs are the levels, 0 as +1), or empty. Started from them, a latent weight flips when its own float value crosses zero,
     * not when it moves by its channel's whole scale, as it does started from the levels (+-alpha).
     */
    private static Optional<float[]> carriedBinaryLatent(OnnxModel model, Map<String, Integer> readers, String levelsName, long[] shape,
            int[] levels) {
        String name = levelsName + TrainingOperators.BINARY_LATENT_SUFFIX;
        if (!model.isInitializer(name) || readers.getOrDefault(name, 0) != 0) {
            return Optional.empty();
        }
        Tensor kept = model.tensor(name);
        if (kept.dataType() != DataType.FLOAT || !Arrays.equals(kept.shape(), shape)) {
            return Optional.empty();
        }
        float[] weights = kept.toFloatArray();
        for (int i = 0; i < weights.length; i++) {
            if ((weights[i] >= 0 ? 1 : -1) != levels[i]) {
                return Optional.empty();
            }
        }
        return Optional.of(weights);
    }

    /** Zero and powers of two only, with a gap somewhere (so not a contiguous range like {-2..2}). */
    private static boolean powersOfTwo(Set<Integer> used, boolean zeroPointsZero) {
        if (!zeroPointsZero) {
            return false;
        }
        for (int level : used) {
            int magnitude = Math.abs(level);
            if (magnitude != 0 && Integer.bitCount(magnitude) != 1) {
                return false;
            }
        }
        return true;
    }

    private static QuantizedBias rewriteBias(OnnxModel model, ModelEditor editor, NodeProto node, int index,
            Map<String, QuantizedWeight> weightByOutput, boolean learnScales) {
        String levelsName = node.getInput(0);
        Tensor levels = model.tensor(levelsName);
        int[] values = levels.toIntArray();
        if (node.getInputCount() < 2 || !model.isInitializer(node.getInput(1))) {
            throw new CondenseException(ErrorCode.UNSUPPORTED_MODEL, "finetune cannot train the int32 bias '" + levelsName + "': its "
                    + "DequantizeLinear reads a scale that is not an initializer");
        }
        String scaleName = node.getInput(1);
        Tensor scaleTensor = model.tensor(scaleName);
        float[] scales = scaleTensor.toFloatArray();
        String zeroPointName = node.getInputCount() > 2 ? node.getInput(2) : "";
        int[] zeroPoints = zeroPointName.isEmpty() ? new int[scales.length] : model.tensor(zeroPointName).toIntArray();
        int axis = (int) NodeAttributes.getInt(node, "axis", 1);
        if (axis < 0) {
            axis += levels.rank();
        }
        int[] parameterIndex = parameterIndex(levelsName, levels.shape(), scaleTensor.shape(), axis, 0);
        float[] latent = new float[values.length];
        for (int i = 0; i < values.length; i++) {
            latent[i] = (float) ((double) (values[i] - zeroPoints[parameterIndex[i]]) * scales[parameterIndex[i]]);
        }
        String latentName = editor.uniqueName(levelsName + "_latent");
        editor.removeInitializer(levelsName);
        editor.putInitializer(Tensor.fromFloats(latentName, DataType.FLOAT, levels.shape(), latent).toProto());
        editor.replaceNode(index, NodeProto.newBuilder().setOpType("Identity").setName(node.getName().isEmpty()
                ? editor.uniqueName(levelsName + "_Identity") : node.getName()).addInput(latentName).addOutput(node.getOutput(0)).build());

        // the layer whose bias this is: its weight input dequantized by one of ours; its activation by a per-tensor DQ
        Optional<QuantizedWeight> weight = Optional.empty();
        boolean rescale = false;
        String activationScale = "";
        for (NodeProto layer : model.consumers(node.getOutput(0))) {
            if (layer.getInputCount() < 3 || !layer.getInput(2).equals(node.getOutput(0))) {
                continue;
            }
            QuantizedWeight candidate = weightByOutput.get(layer.getInput(1));
            if (candidate == null) {
                continue;
            }
            weight = Optional.of(candidate);
            Optional<NodeProto> activation = model.producer(layer.getInput(0));
            if ((candidate.scaleTrained() || learnScales) && activation.isPresent() && activation.get().getOpType().equals("DequantizeLinear")
                    && activation.get().getInputCount() > 1 && model.isInitializer(activation.get().getInput(1))) {
                float[] activationScales = model.tensor(activation.get().getInput(1)).toFloatArray();
                rescale = activationScales.length == 1 && isProduct(scales, activationScales[0], candidate.scales());
                activationScale = rescale ? activation.get().getInput(1) : "";
            }
            break;
        }
        return new QuantizedBias(levelsName, levels.shape(), values, scaleName, scales, zeroPointName, zeroPoints, parameterIndex,
                latentName, weight, rescale, activationScale);
    }

    /** Whether bias scales are activation scale x weight scale per channel (a zero weight scale counted as 1). */
    private static boolean isProduct(float[] biasScales, float activationScale, float[] weightScales) {
        if (biasScales.length != weightScales.length && weightScales.length != 1) {
            return false;
        }
        for (int c = 0; c < biasScales.length; c++) {
            float weightScale = weightScales[weightScales.length == 1 ? 0 : c];
            double expected = (double) activationScale * (weightScale == 0 ? 1 : weightScale);
            if (Math.abs(biasScales[c] - expected) > 1e-5 * Math.abs(expected)) {
                return false;
            }
        }
        return true;
    }

    /**
     * Reads every codebook through a {@link TrainingOperators#SCALED_GRADIENT} whose factor is 1 / the number of weights
     * sharing each entry, so a centroid moves by the MEAN of its weights' gradients. Deep Compression sums them; at SGD's
     * rate for weights (0.01, momentum 0.9) a sum over thousands of weights moves a centroid thousands of times further than
     * any one weight would: the Caffe LeNet-5's fc1 codebook ran from 0.40 to 96.5 in its first epoch (test accuracy 0.10).
     * The mean takes a step of one weight's size, whatever the cluster's size.
     */
    private static void meanCodebookGradients(OnnxModel model, ModelEditor editor, List<Codebook> codebooks) {
        Map<String, long[]> counts = new LinkedHashMap<>();
        for (Codebook codebook : codebooks) {
            long[] count = counts.computeIfAbsent(codebook.codebook(), name -> new long[(int) model.tensor(name).elementCount()]);
            for (long index : model.tensor(codebook.indices()).toLongArray()) {
                long entry = index < 0 ? index + count.length : index;
                if (entry < 0 || entry >= count.length) {
                    throw new CondenseException(ErrorCode.INVALID_MODEL, "the indices '" + codebook.indices() + "' select entry " + index
                            + " of the codebook '" + codebook.codebook() + "', which has " + count.length + " entries");
                }
                count[(int) entry]++;
            }
        }
        Map<String, String> sharedOutputs = new LinkedHashMap<>();
        for (Map.Entry<String, long[]> entry : counts.entrySet()) {
            String codebook = entry.getKey();
            long[] count = entry.getValue();
            float[] factor = new float[count.length];
            for (int i = 0; i < count.length; i++) {
                factor[i] = count[i] == 0 ? 1f : (float) (1.0 / count[i]);
            }
            String factorName = editor.uniqueName(codebook + "_mean_gradient");
            editor.putInitializer(Tensor.fromFloats(factorName, DataType.FLOAT, model.tensor(codebook).shape(), factor).toProto());
            String output = editor.uniqueName(codebook + "_shared");
            editor.addNode(NodeProto.newBuilder().setOpType(TrainingOperators.SCALED_GRADIENT).setDomain(TrainingOperators.DOMAIN)
                    .setName(editor.uniqueName(codebook + "_ScaledGradient")).addInput(codebook).addInput(factorName).addOutput(output)
                    .build());
            sharedOutputs.put(codebook, output);
        }
        List<NodeProto> nodes = model.nodes();
        for (int i = 0; i < nodes.size(); i++) {
            NodeProto node = nodes.get(i);
            String shared = node.getOpType().equals("Gather") && node.getInputCount() >= 2 ? sharedOutputs.get(node.getInput(0)) : null;
            if (shared != null) {
                editor.replaceNode(i, node.toBuilder().setInput(0, shared).build());
            }
        }
    }

    /** Gather nodes reading a float initializer table through indices that are an initializer, or a Cast of one. */
    private static List<Codebook> codebooks(OnnxModel model) {
        List<Codebook> found = new ArrayList<>();
        for (NodeProto node : model.nodes()) {
            if (!node.getOpType().equals("Gather") || node.getInputCount() < 2 || !model.isInitializer(node.getInput(0))
                    || model.tensor(node.getInput(0)).dataType() != DataType.FLOAT) {
                continue;
            }
            String indices = node.getInput(1);
            Optional<NodeProto> producer = model.producer(indices);
            if (producer.isPresent() && producer.get().getOpType().equals("Cast")) {
                indices = producer.get().getInput(0);
            }
            if (model.isInitializer(indices)) {
                found.add(new Codebook(node.getInput(0), indices));
            }
        }
        return List.copyOf(found);
    }

    /** The trainer's default set: float32 initializers never read in a structural position. */
    static Set<String> defaultTrainable(OnnxModel model) {
        return new TreeSet<>(TrainableInitializers.defaults(model));
    }

    /**
     * For each element of a tensor of {@code shape}, the index of its scale (and zero point): one for all, one per
     * entry along {@code axis}, or (block_size > 0) one per block of {@code blockSize} along the axis.
     */
    static int[] parameterIndex(String name, long[] shape, long[] parameterShape, int axis, long blockSize) {
        int count = Math.toIntExact(Arrays.stream(shape).reduce(1, (a, b) -> a * b));
        long parameters = Arrays.stream(parameterShape).reduce(1, (a, b) -> a * b);
        int[] index = new int[count];
        if (parameters == 1 && blockSize == 0) {
            return index;
        }
        int rank = shape.length;
        if (axis < 0 || axis >= rank) {
            throw new CondenseException(ErrorCode.INVALID_MODEL, "the DequantizeLinear of '" + name + "' has axis " + axis
                    + " for a rank-" + rank + " tensor");
        }
        long inner = 1;
        for (int d = axis + 1; d < rank; d++) {
            inner *= shape[d];
        }
        long size = shape[axis];
        if (blockSize == 0) {
            if (parameters != size) {
                throw new CondenseException(ErrorCode.INVALID_MODEL, "the DequantizeLinear of '" + name + "' has " + parameters
                        + " scales along axis " + axis + " of size " + size);
            }
            for (int i = 0; i < count; i++) {
                index[i] = (int) ((i / inner) % size);
            }
            return index;
        }
        long blocks = (size + blockSize - 1) / blockSize;
        if (parameterShape.length != rank || parameterShape[axis] != blocks) {
            throw new CondenseException(ErrorCode.INVALID_MODEL, "the blocked DequantizeLinear of '" + name + "' has scales of shape "
                    + Arrays.toString(parameterShape) + " for levels " + Arrays.toString(shape) + " in blocks of " + blockSize);
        }
        for (int i = 0; i < count; i++) {
            long outer = i / (inner * size);
            long along = (i / inner) % size;
            long within = i % inner;
            index[i] = (int) ((outer * blocks + along / blockSize) * inner + within);
        }
        return index;
    }

    OnnxModel input() {
        return input;
    }

    /** The written model and one report entry per quantized weight and codebook. */
    record WrittenBack(OnnxModel model, List<Map<String, Object>> layers) {
    }

    /**
     * The input model with the trained values in its own form: float initializers copied, latents turned into levels
     * of the original type, shape and name ({@code clip(round(latent / scale) + zero point, lo, hi)}, binary: the sign,
     * 0 as +1), trained scales written (a negative channel scale is made positive by negating that channel's levels,
     * the same product), int32 biases requantized (their scales rescaled by new / old weight scale when they were
     * activation scale x weight scale). Then checks every written level against the input's.
     */
    WrittenBack writeBack(OnnxModel trained) {
        requireNonNull(trained, "trained is null");
        ModelEditor editor = input.edit();
        for (TensorProto initializer : input.graph().getInitializerList()) {
            if (initializer.getDataType() == TensorProto.DataType.FLOAT_VALUE) {
                // the trainer writes an empty doc_string where the input had none (proto2 keeps it: 2 bytes a tensor)
                trained.initializer(initializer.getName()).ifPresent(tensor -> editor.putInitializer(
                        initializer.hasDocString() ? tensor : tensor.toBuilder().clearDocString().build()));
            }
        }
        List<Map<String, Object>> layers = new ArrayList<>();
        Map<String, float[]> newScales = new LinkedHashMap<>();
        for (QuantizedWeight weight : weights) {
            float[] latent = trained.tensor(weight.latent()).toFloatArray();
            float[] quantizeScales = trained.tensor(weight.quantizeScale()).toFloatArray();
            float[] scales = weight.scaleTrained() ? trained.tensor(weight.scale()).toFloatArray() : weight.scales().clone();
            for (float scale : scales) {
                // a uniform step (LSQ) must stay positive: its levels cannot be negated within an asymmetric range
                if (!Float.isFinite(scale) || weight.form() == Form.QAT && weight.scaleTrained() && scale <= 0) {
                    throw new CondenseException(ErrorCode.INVALID_PARAMETER, "fine-tuning made a scale of '" + weight.levels()
                            + "' " + scale + "; lower the learning rate");
                }
            }
            int[] levels = new int[latent.length];
            int[] parameterIndex = weight.parameterIndex();
            for (int i = 0; i < latent.length; i++) {
                int p = parameterIndex[i];
                if (weight.form() == Form.BINARY) {
                    levels[i] = latent[i] >= 0 ? 1 : -1;
                } else {
                    float scaled = latent[i] / quantizeScales[p];
                    long level = (long) Math.rint(scaled) + weight.zeroPoints()[p];
                    levels[i] = (int) Math.max(weight.lo(), Math.min(weight.hi(), level));
                }
            }
            int flipped = 0;
            if (weight.scaleTrained()) {
                boolean[] negative = new boolean[scales.length];
                for (int c = 0; c < scales.length; c++) {
                    if (scales[c] < 0) {
                        negative[c] = true;
                        scales[c] = -scales[c];
                        flipped++;
                    }
                }
                if (flipped > 0) {
                    for (int i = 0; i < levels.length; i++) {
                        if (negative[parameterIndex[i]]) {
                            levels[i] = -levels[i];
                        }
                    }
                }
                editor.putInitializer(Tensor.fromFloats(weight.scale(), DataType.FLOAT, weight.scaleShape(), scales).toProto());
                newScales.put(weight.output(), scales);
            }
            editor.putInitializer(Tensor.fromInts(weight.levels(), weight.type(), weight.shape(), levels).toProto());
            layers.add(weightEntry(weight, levels, scales, flipped));
        }
        for (QuantizedBias bias : biases) {
            float[] latent = trained.tensor(bias.latent()).toFloatArray();
            float[] scales = bias.scales().clone();
            if (bias.rescale()) {
                QuantizedWeight weight = bias.weight().orElseThrow();
                float[] after = newScales.getOrDefault(weight.output(), weight.scales());
                double activationRatio = activationRatio(bias.activationScale(), trained);
                for (int c = 0; c < scales.length; c++) {
                    float old = weight.scales()[weight.scales().length == 1 ? 0 : c];
                    float now = after[after.length == 1 ? 0 : c];
                    double weightRatio = old != 0 && now != 0 ? (double) now / old : 1;
                    scales[c] = (float) ((double) scales[c] * weightRatio * activationRatio);
                }
                editor.putInitializer(Tensor.fromFloats(bias.scale(), DataType.FLOAT, input.tensor(bias.scale()).shape(), scales).toProto());
            }
            int[] levels = new int[latent.length];
            for (int i = 0; i < latent.length; i++) {
                int p = bias.parameterIndex()[i];
                double level = Math.rint(latent[i] / (double) scales[p]) + bias.zeroPoints()[p];
                levels[i] = (int) Math.max(Integer.MIN_VALUE, Math.min(Integer.MAX_VALUE, level));
            }
            editor.putInitializer(Tensor.fromInts(bias.levels(), DataType.INT32, bias.shape(), levels).toProto());
            Map<String, Object> entry = new LinkedHashMap<>();
            entry.put("name", bias.levels());
            entry.put("form", "int32_bias");
            entry.put("elements", (long) levels.length);
            bias.weight().ifPresent(w -> entry.put("weight", w.levels()));
            entry.put("scale_rescaled", bias.rescale());
            int changed = 0;
            for (int i = 0; i < levels.length; i++) {
                if (levels[i] != bias.values()[i]) {
                    changed++;
                }
            }
            entry.put("levels_changed", (long) changed);
            layers.add(entry);
        }
        for (TrainedTernaryLayers.Layer layer : ternaryLayers) {
            layers.add(TrainedTernaryLayers.writeBack(layer, trained, editor));
        }
        for (LearnedStepSizes.ActivationStep step : activationSteps) {
            LearnedStepSizes.trainedScale(step, trained);
            layers.add(LearnedStepSizes.entry(step, trained));
        }
        OnnxModel written = editor.build();
        for (TrainedTernaryLayers.Layer layer : ternaryLayers) {
            TrainedTernaryLayers.checkWritten(layer, written);
        }
        for (Codebook codebook : codebooks) {
            layers.add(codebookEntry(codebook, written));
        }
        return new WrittenBack(written, layers);
    }

    /** New / old value of a trained activation scale (LSQ), 1 for one that did not train or none. */
    private double activationRatio(String activationScale, OnnxModel trained) {
        for (LearnedStepSizes.ActivationStep step : activationSteps) {
            if (step.scale().equals(activationScale) && step.before()[0] != 0) {
                return (double) LearnedStepSizes.trainedScale(step, trained)[0] / step.before()[0];
            }
        }
        return 1;
    }

    private Map<String, Object> weightEntry(QuantizedWeight weight, int[] levels, float[] scales, int flipped) {
        Map<String, Object> entry = new LinkedHashMap<>();
        entry.put("name", weight.levels());
        entry.put("form", weight.form().label);
        entry.put("elements", (long) levels.length);
        entry.put("levels_type", weight.type().name().toLowerCase(java.util.Locale.ROOT));
        entry.put("levels_range", List.of(weight.lo(), weight.hi()));
        entry.put("levels_used_before", (long) weight.usedLevels());
        TreeSet<Integer> after = new TreeSet<>();
        long changed = 0;
        long zerosBefore = 0;
        long zerosAfter = 0;
        boolean kept = true;
        TreeSet<Integer> before = new TreeSet<>();
        for (int value : weight.values()) {
            before.add(value);
        }
        for (int i = 0; i < levels.length; i++) {
            after.add(levels[i]);
            int zeroPoint = weight.zeroPoints()[weight.parameterIndex()[i]];
            changed += levels[i] != weight.values()[i] ? 1 : 0;
            zerosBefore += weight.values()[i] == zeroPoint ? 1 : 0;
            zerosAfter += levels[i] == zeroPoint ? 1 : 0;
            // binary and ternary keep their value set exactly; uniform levels stay within the input's range
            kept &= weight.form() == Form.QAT ? levels[i] >= weight.lo() && levels[i] <= weight.hi() : before.contains(levels[i]);
        }
        // a level's meaning also needs the type: the written tensor must read back as these levels
        entry.put("levels_used_after", (long) after.size());
        entry.put("levels_changed", changed);
        entry.put("zero_levels_before", zerosBefore);
        entry.put("zero_levels_after", zerosAfter);
        entry.put("levels_kept", kept);
        if (!kept) {
            throw new CondenseException(ErrorCode.INTERNAL_ERROR, "finetune wrote levels " + after + " for '" + weight.levels()
                    + "', outside the input's " + before + "; report this with the model");
        }
        entry.put("scale_trained", weight.scaleTrained());
        if (weight.form() == Form.BINARY) {
            entry.put("latent_start", weight.floatLatent() ? "float_weights" : "levels");
        }
        if (weight.scaleTrained()) {
            entry.put("scale_mean_before", mean(weight.scales()));
            entry.put("scale_mean_after", mean(scales));
            if (scales.length <= 32) {
                entry.put("scales_before", toList(weight.scales()));
                entry.put("scales_after", toList(scales));
            }
            entry.put("scales_changed", (long) countChanged(weight.scales(), scales));
            entry.put("scales_flipped", (long) flipped);
        }
        return entry;
    }

    private Map<String, Object> codebookEntry(Codebook codebook, OnnxModel written) {
        Map<String, Object> entry = new LinkedHashMap<>();
        float[] before = input.tensor(codebook.codebook()).toFloatArray();
        float[] after = written.tensor(codebook.codebook()).toFloatArray();
        boolean indicesIdentical = input.tensor(codebook.indices()).rawByteString().equals(written.tensor(codebook.indices()).rawByteString())
                && input.tensor(codebook.indices()).dataType() == written.tensor(codebook.indices()).dataType();
        boolean sizeUnchanged = before.length == after.length;
        entry.put("name", codebook.codebook());
        entry.put("form", "codebook");
        entry.put("indices", codebook.indices());
        entry.put("entries", (long) after.length);
        entry.put("entries_changed", (long) countChanged(before, after));
        long zeroEntries = 0;
        for (float value : before) {
            zeroEntries += value == 0f ? 1 : 0;
        }
        entry.put("zero_entries_before", zeroEntries);
        long zeroAfter = 0;
        for (float value : after) {
            zeroAfter += value == 0f ? 1 : 0;
        }
        entry.put("zero_entries_after", zeroAfter);
        entry.put("indices_identical", indicesIdentical);
        entry.put("codebook_size_unchanged", sizeUnchanged);
        entry.put("levels_kept", indicesIdentical && sizeUnchanged);
        if (!indicesIdentical || !sizeUnchanged) {
            throw new CondenseException(ErrorCode.INTERNAL_ERROR, "finetune changed the indices or the size of codebook '"
                    + codebook.codebook() + "'; report this with the model");
        }
        return entry;
    }

    private static int countChanged(float[] before, float[] after) {
        int changed = 0;
        for (int i = 0; i < before.length; i++) {
            changed += Float.compare(before[i], after[i]) != 0 ? 1 : 0;
        }
        return changed;
    }

    private static double mean(float[] values) {
        double sum = 0;
        for (float value : values) {
            sum += value;
        }
        return values.length == 0 ? 0 : sum / values.length;
    }

    private static List<Double> toList(float[] values) {
        List<Double> list = new ArrayList<>(values.length);
        for (float value : values) {
            list.add((double) value);
        }
        return list;
    }
}
