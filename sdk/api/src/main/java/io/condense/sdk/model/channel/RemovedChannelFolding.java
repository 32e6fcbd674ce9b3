package io.condense.sdk.model.channel;

import static java.util.Objects.requireNonNull;

import ai.onnx.proto.OnnxMl.NodeProto;
import io.condense.sdk.model.ModelEditor;
import io.condense.sdk.model.NodeAttributes;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.model.channel.ChannelDependencies.Role;
import io.condense.sdk.model.channel.ChannelDependencies.Slice;
import io.condense.sdk.stats.ShapeInference;
import io.condense.sdk.tensor.DataType;
import io.condense.sdk.tensor.Tensor;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.function.DoubleUnaryOperator;

/**
 * Folds what a removed channel still contributed into the bias of the layer that read it. A channel whose
 * BatchNormalization scale is zero outputs its shift (beta) whatever its input, so after Relu, pooling or flattening it is a
 * constant; removing it without more would take that constant out of every following layer (and out of the statistics
 * the next BatchNormalization was trained with). Here the next Conv or Gemm gets {@code sum over the removed inputs of
 * value x weight} added to its bias, so the pruned model computes what the original computed, exactly for a Gemm (or a
 * Conv without padding), and away from the zero-padded borders for a padded Conv (where the original's window saw
 * padding instead of the constant). Network slimming's paper drops these channels as they are; folding keeps the
 * accuracy before fine-tuning.
 *
 * <p>The value of a removed channel is followed back from the layer that reads it: BatchNormalization gives its shift
 * (exact when its scale is 0; for a channel whose scale is not 0 the shift is the channel's mean, an approximation), and
 * Relu, LeakyRelu, Clip, Sigmoid, Tanh, HardSigmoid, Identity, Dropout, pooling, Squeeze, Unsqueeze, Flatten, Reshape and
 * Concat map it on. Any other op, or no BatchNormalization on the way (a channel of a plain Conv is not constant), leaves
 * the channel unfolded. Written by hand: the folding follows the channel layouts {@link ChannelDependencies} found, which
 * no library knows.
 */
final class RemovedChannelFolding {

    /**
     * The model with the biases changed, and counts: removed input channels (or features) whose constant was added to a
     * bias, and those whose value is not known to be constant or whose layer has no bias to take it.
     */
    record Result(OnnxModel model, long folded, long notFolded, int layers) {
        boolean changed() {
            return layers > 0;
        }
    }

    private final OnnxModel source;
    private final ShapeInference shapes;
    private final Map<String, Optional<double[]>> values = new HashMap<>();

    private RemovedChannelFolding(OnnxModel source) {
        this.source = requireNonNull(source, "source is null");
        this.shapes = ShapeInference.of(source);
    }

    /** Folds the channels {@code kept} leaves out into the biases of the layers that read them. */
    static Result fold(OnnxModel source, ChannelDependencies dependencies, Map<Integer, int[]> kept) {
        return new RemovedChannelFolding(source).run(dependencies, kept);
    }

    private Result run(ChannelDependencies dependencies, Map<Integer, int[]> kept) {
        ModelEditor editor = null;
        long folded = 0;
        long notFolded = 0;
        int layers = 0;
        for (Slice slice : dependencies.slices()) {
            if (slice.role() != Role.INPUTS || slice.nodeIndex() < 0) {
                continue;
            }
            int[] keptFeatures = ChannelPruner.keptFeatures(dependencies, slice.layout(), kept);
            if (keptFeatures == null) {
                continue;
            }
            int features = Math.toIntExact(ChannelDependencies.features(slice.layout()));
            boolean[] removed = new boolean[features];
            Arrays.fill(removed, true);
            for (int feature : keptFeatures) {
                removed[feature] = false;
            }
            NodeProto node = source.nodes().get(slice.nodeIndex());
            Optional<double[]> constants = value(node.getInput(0));
            double[] delta = constants.isPresent() && constants.get().length == features ? delta(node, slice, removed, constants.get()) : null;
            long count = features - keptFeatures.length;
            if (delta == null) {
                notFolded += count;
                continue;
            }
            long known = 0;
            for (int f = 0; f < features; f++) {
                known += removed[f] && Double.isFinite(constants.get()[f]) ? 1 : 0;
            }
            editor = editor == null ? source.edit() : editor;
            if (!addToBias(editor, slice.nodeIndex(), node, delta)) {
                notFolded += count;
                continue;
            }
            folded += known;
            notFolded += count - known;
            layers++;
        }
        return new Result(editor == null || layers == 0 ? source : editor.build(), folded, notFolded, layers);
    }

    /** What the removed features add to each output of the layer: the constants times the weights that read them. */
    private double[] delta(NodeProto node, Slice slice, boolean[] removed, double[] constants) {
        String op = node.getOpType();
        if (!op.equals("Conv") && !op.equals("Gemm")) {
            return null; // MatMul has no bias; ConvTranspose spreads a constant unevenly
        }
        ConstantTensor.Result weight = ConstantTensor.of(source, node.getInput(1));
        if (!weight.ok()) {
            return null;
        }
        long[] shape = weight.tensor().originalShape();
        float[] w = weight.tensor().values();
        int axis = slice.axis();
        int outputAxis = op.equals("Conv") ? 0 : 1 - axis;
        int inputs = Math.toIntExact(shape[axis]);
        int outputs = Math.toIntExact(shape[outputAxis]);
        int inner = Math.toIntExact(ConstantTensor.product(shape, 2, shape.length));
        double[] delta = new double[outputs];
        for (int o = 0; o < outputs; o++) {
            for (int f = 0; f < inputs; f++) {
                if (!removed[f] || !Double.isFinite(constants[f]) || constants[f] == 0) {
                    continue;
                }
                double sum = 0;
                for (int k = 0; k < inner; k++) {
                    // Conv [O, I, k...]; Gemm [K, N] (axis 0 reads the inputs) or [N, K]
                    int index = outputAxis == 0 ? (o * inputs + f) * inner + k : f * outputs + o;
                    sum += w[index];
                }
                delta[o] += constants[f] * sum;
            }
        }
        return delta;
    }

    /** Adds {@code delta} to the layer's bias (Gemm: scaled by alpha / beta), creating the bias when it has none. */
    private boolean addToBias(ModelEditor editor, int nodeIndex, NodeProto node, double[] delta) {
        double factor = 1;
        if (node.getOpType().equals("Gemm")) {
            float beta = NodeAttributes.getFloat(node, "beta", 1f);
            if (beta == 0) {
                return false;
            }
            factor = NodeAttributes.getFloat(node, "alpha", 1f) / beta;
        }
        String biasName = node.getInputCount() > 2 ? node.getInput(2) : "";
        float[] bias;
        long[] shape;
        if (biasName.isEmpty()) {
            biasName = editor.uniqueName(node.getInput(1) + "_folded_bias");
            bias = new float[delta.length];
            shape = new long[] {delta.length};
            NodeProto.Builder builder = node.toBuilder();
            while (builder.getInputCount() < 2) {
                builder.addInput("");
            }
            if (builder.getInputCount() == 2) {
                builder.addInput(biasName);
            } else {
                builder.setInput(2, biasName);
            }
            editor.replaceNode(nodeIndex, builder.build());
        } else {
            if (!source.isInitializer(biasName) || source.consumers(biasName).size() != 1) {
                return false;
            }
            Tensor tensor = source.tensor(biasName);
            if (tensor.dataType() != DataType.FLOAT || tensor.elementCount() != delta.length) {
                return false;
            }
            bias = tensor.toFloatArray();
            shape = tensor.shape();
        }
        for (int o = 0; o < delta.length; o++) {
            bias[o] = (float) (bias[o] + factor * delta[o]);
        }
        editor.putInitializer(Tensor.fromFloats(biasName, DataType.FLOAT, shape, bias).toProto());
        return true;
    }

    /** The constant value of every channel (axis 1) of {@code value}, NaN where not constant; empty when none is known. */
    private Optional<double[]> value(String value) {
        Optional<double[]> known = values.get(value);
        if (known == null) {
            known = Optional.ofNullable(compute(value));
            values.put(value, known);
        }
        return known;
    }

    private double[] compute(String value) {
        int producer = source.producerIndex(value);
        if (producer < 0) {
            return null;
        }
        NodeProto node = source.nodes().get(producer);
        if (!node.getOutput(0).equals(value) || (!node.getDomain().isEmpty() && !node.getDomain().equals("ai.onnx"))) {
            return null;
        }
        return switch (node.getOpType()) {
            case "BatchNormalization" -> batchNormalization(node);
            case "Relu" -> map(node, x -> Math.max(0, x));
            case "LeakyRelu" -> {
                double alpha = NodeAttributes.getFloat(node, "alpha", 0.01f);
                yield map(node, x -> x >= 0 ? x : alpha * x);
            }
            case "Sigmoid" -> map(node, x -> 1 / (1 + Math.exp(-x)));
            case "Tanh" -> map(node, Math::tanh);
            case "HardSigmoid" -> {
                double alpha = NodeAttributes.getFloat(node, "alpha", 0.2f);
                double beta = NodeAttributes.getFloat(node, "beta", 0.5f);
                yield map(node, x -> Math.max(0, Math.min(1, alpha * x + beta)));
            }
            case "Clip" -> clip(node);
            case "Identity", "Dropout", "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool", "Squeeze", "Unsqueeze" ->
                    value(node.getInput(0)).orElse(null);
            case "Flatten", "Reshape" -> spread(node);
            case "Concat" -> concat(node);
            default -> null;
        };
    }

    /** BatchNormalization of a constant; of anything else, its shift (what it outputs when its scale is 0). */
    private double[] batchNormalization(NodeProto node) {
        float[][] parameters = new float[4][];
        for (int i = 0; i < 4; i++) {
            String name = node.getInput(i + 1);
            if (!source.isInitializer(name) || source.tensor(name).dataType() != DataType.FLOAT) {
                return null;
            }
            parameters[i] = source.tensor(name).toFloatArray();
        }
        float[] scale = parameters[0];
        float[] shift = parameters[1];
        double epsilon = NodeAttributes.getFloat(node, "epsilon", 1e-5f);
        double[] input = value(node.getInput(0)).orElse(null);
        double[] output = new double[shift.length];
        for (int c = 0; c < output.length; c++) {
            boolean constant = input != null && input.length == output.length && Double.isFinite(input[c]);
            output[c] = constant ? scale[c] * (input[c] - parameters[2][c]) / Math.sqrt(parameters[3][c] + epsilon) + shift[c] : shift[c];
        }
        return output;
    }

    private double[] map(NodeProto node, DoubleUnaryOperator function) {
        double[] input = value(node.getInput(0)).orElse(null);
        if (input == null) {
            return null;
        }
        double[] output = new double[input.length];
        for (int c = 0; c < output.length; c++) {
            output[c] = Double.isFinite(input[c]) ? function.applyAsDouble(input[c]) : Double.NaN;
        }
        return output;
    }

    private double[] clip(NodeProto node) {
        double low = NodeAttributes.getFloat(node, "min", Float.NEGATIVE_INFINITY);
        double high = NodeAttributes.getFloat(node, "max", Float.POSITIVE_INFINITY);
        for (int i = 1; i < node.getInputCount(); i++) {
            String bound = node.getInput(i);
            if (bound.isEmpty()) {
                continue;
            }
            if (!source.isInitializer(bound) || source.tensor(bound).elementCount() != 1 || source.tensor(bound).dataType() != DataType.FLOAT) {
                return null;
            }
            double limit = source.tensor(bound).getFloat(0);
            if (i == 1) {
                low = limit;
            } else {
                high = limit;
            }
        }
        double min = low;
        double max = high;
        return map(node, x -> Math.max(min, Math.min(max, x)));
    }

    /** Flatten or Reshape to [N, features]: each channel's constant over its run of features. */
    private double[] spread(NodeProto node) {
        double[] input = value(node.getInput(0)).orElse(null);
        Optional<long[]> shape = shapes.shape(node.getOutput(0));
        if (input == null || shape.isEmpty() || shape.get().length != 2 || shape.get()[1] <= 0 || shape.get()[1] % input.length != 0) {
            return null;
        }
        int factor = Math.toIntExact(shape.get()[1] / input.length);
        double[] output = new double[input.length * factor];
        for (int c = 0; c < input.length; c++) {
            Arrays.fill(output, c * factor, (c + 1) * factor, input[c]);
        }
        return output;
    }

    /** Concat along the channels: the inputs' constants side by side (NaN for inputs not known). */
    private double[] concat(NodeProto node) {
        Optional<long[]> out = shapes.shape(node.getOutput(0));
        if (out.isEmpty() || out.get().length < 2) {
            return null;
        }
        long axis = NodeAttributes.getInt(node, "axis", 1);
        if ((axis < 0 ? axis + out.get().length : axis) != 1) {
            return null;
        }
        double[] output = new double[Math.toIntExact(out.get()[1])];
        int offset = 0;
        for (String input : node.getInputList()) {
            Optional<long[]> shape = shapes.shape(input);
            if (shape.isEmpty() || shape.get().length < 2 || shape.get()[1] <= 0) {
                return null;
            }
            int channels = Math.toIntExact(shape.get()[1]);
            double[] known = value(input).orElse(null);
            for (int c = 0; c < channels; c++) {
                output[offset + c] = known != null && known.length == channels ? known[c] : Double.NaN;
            }
            offset += channels;
        }
        return offset == output.length ? output : null;
    }
}
