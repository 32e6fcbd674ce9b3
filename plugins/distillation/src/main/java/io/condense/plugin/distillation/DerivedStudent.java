package io.condense.plugin.distillation;

import static java.util.Objects.requireNonNull;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import io.condense.sdk.context.StepContext;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.model.ModelEditor;
import io.condense.sdk.model.NodeAttributes;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.model.WeightLayer;
import io.condense.sdk.model.channel.ChannelPruner;
import io.condense.sdk.tensor.DataType;
import io.condense.sdk.tensor.Tensor;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;

/**
 * A student derived from the teacher: every hidden Conv, Gemm and MatMul layer keeps a share ({@code width}) of its output
 * channels, chosen and cut by the SDK's structured channel pruning ({@link ChannelPruner#narrow}: l1 norm, exact counts; the
 * layer whose output is the graph output keeps all), so the kept channels start from the teacher's weights; optionally every k x k Conv over more
 * than one input channel becomes a depthwise k x k Conv and a 1 x 1 pointwise Conv (MobileNet's depthwise separable
 * convolution); optionally every weight re-initialised as PyTorch initialises a new layer.
 */
final class DerivedStudent {

    /**
     * How to derive the student.
     *
     * @param width share of output channels each hidden weight layer keeps, in (0, 1]
     * @param depthwise whether k x k convolutions become depthwise separable ones
     * @param randomInit whether every weight is re-initialised (Kaiming-uniform, as PyTorch's default)
     * @param seed seeds every new or re-initialised weight
     */
    record Options(double width, boolean depthwise, boolean randomInit, long seed) {
        Options {
            if (!(width > 0 && width <= 1)) {
                throw new IllegalArgumentException("width must be in (0, 1], got " + width);
            }
        }
    }

    /**
     * A derived student.
     *
     * @param narrowedLayers weight layers channel pruning narrowed
     * @param separableConvolutions convolutions made depthwise separable
     * @param reinitializedInitializers initializers given new values by init=random
     */
    record Derivation(OnnxModel model, int narrowedLayers, int separableConvolutions, int reinitializedInitializers) {
        Derivation {
            requireNonNull(model, "model is null");
        }
    }

    private DerivedStudent() {
    }

    /**
     * Derives the student.
     *
     * @param context given to channel pruning (progress, cancellation); progress is best kept in a slice of the step
     * @throws CondenseException NOTHING_TO_COMPRESS when width is below 1 and no layer can be narrowed
     */
    static Derivation derive(OnnxModel teacher, Options options, StepContext context) {
        requireNonNull(teacher, "teacher is null");
        requireNonNull(options, "options is null");
        requireNonNull(context, "context is null");
        OnnxModel student = teacher;
        int narrowed = 0;
        if (options.width() < 1) {
            student = narrowed(teacher, options.width(), context);
            narrowed = countNarrowed(teacher, student);
            if (narrowed == 0) {
                throw new CondenseException(ErrorCode.NOTHING_TO_COMPRESS, "distill cannot narrow this model with width="
                        + options.width() + ": every hidden weight layer already has a single output channel; give a student "
                        + "(student=@file.onnx) or use width=1 with depthwise=true or init=random");
            }
        }
        Random random = new Random(options.seed());
        int separable = 0;
        if (options.depthwise()) {
            ModelEditor editor = student.edit();
            separable = separateConvolutions(student, editor, random, options.randomInit());
            student = editor.build();
        }
        int reinitialized = 0;
        if (options.randomInit()) {
            ModelEditor editor = student.edit();
            reinitialized = reinitialize(student, editor, random);
            student = editor.build();
        }
        return new Derivation(student, narrowed, separable, reinitialized);
    }

    /** The teacher with every hidden weight layer cut to {@code width} of its output channels by the SDK's channel pruning. */
    static OnnxModel narrowed(OnnxModel teacher, double width, StepContext context) {
        try {
            return ChannelPruner.narrow(teacher, width, context);
        } catch (CondenseException e) {
            if (e.code() != ErrorCode.NOTHING_TO_COMPRESS) {
                throw e;
            }
            throw new CondenseException(ErrorCode.NOTHING_TO_COMPRESS, "distill has nothing width can narrow in this model: "
                    + e.getMessage().replaceFirst("^nothing to prune by channels: ", "") + ". Give a student (student=@file.onnx), "
                    + "or derive one with width=1 and depthwise=true or init=random", e);
        }
    }

    /** Weight layers whose weight has fewer elements in the student than in the teacher. */
    private static int countNarrowed(OnnxModel teacher, OnnxModel student) {
        int count = 0;
        for (WeightLayer layer : student.weightLayers()) {
            String weight = layer.weightName();
            if (teacher.isInitializer(weight) && student.isInitializer(weight)
                    && student.tensor(weight).elementCount() < teacher.tensor(weight).elementCount()) {
                count++;
            }
        }
        return count;
    }

    /**
     * Replaces every Conv with a constant 4-d weight {@code [O, C, kh, kw]}, a kernel larger than 1 x 1, group 1 and
     * {@code C > 1} by a depthwise Conv (group C, the same kernel, strides, pads and dilations) and a 1 x 1 Conv to the O
     * outputs carrying the bias. The bias keeps its values unless {@code randomBias}; new weights are Kaiming-uniform.
     *
     * @return how many convolutions were replaced
     */
    static int separateConvolutions(OnnxModel model, ModelEditor editor, Random random, boolean randomBias) {
        List<NodeProto> nodes = model.nodes();
        int replaced = 0;
        for (int index = 0; index < nodes.size(); index++) {
            NodeProto node = nodes.get(index);
            if (!node.getOpType().equals("Conv") || node.getInputCount() < 2 || !model.isInitializer(node.getInput(1))
                    || NodeAttributes.getInt(node, "group", 1) != 1) {
                continue;
            }
            Tensor weight = model.tensor(node.getInput(1));
            long[] shape = weight.shape();
            if (shape.length != 4 || shape[1] < 2 || shape[2] * shape[3] < 2 || weight.dataType() != DataType.FLOAT) {
                continue;
            }
            long outputs = shape[0];
            long channels = shape[1];
            String label = node.getName().isEmpty() ? node.getOutput(0) : node.getName();
            String depthwiseWeight = editor.uniqueName(node.getInput(1) + "_depthwise");
            String pointwiseWeight = editor.uniqueName(node.getInput(1) + "_pointwise");
            String pointwiseBias = editor.uniqueName(node.getInput(1) + "_pointwise_bias");
            String between = editor.uniqueName(node.getOutput(0) + "_depthwise");
            long[] depthwiseShape = {channels, 1, shape[2], shape[3]};
            editor.putInitializer(Tensor.fromFloats(depthwiseWeight, DataType.FLOAT, depthwiseShape,
                    uniform(random, depthwiseShape, shape[2] * shape[3])).toProto());
            long[] pointwiseShape = {outputs, channels, 1, 1};
            editor.putInitializer(Tensor.fromFloats(pointwiseWeight, DataType.FLOAT, pointwiseShape,
                    uniform(random, pointwiseShape, channels)).toProto());
            boolean hasBias = node.getInputCount() > 2 && !node.getInput(2).isEmpty() && model.isInitializer(node.getInput(2));
            float[] bias = hasBias && !randomBias ? model.tensor(node.getInput(2)).toFloatArray()
                    : uniform(random, new long[] {outputs}, channels);
            editor.putInitializer(Tensor.fromFloats(pointwiseBias, DataType.FLOAT, new long[] {outputs}, bias).toProto());
            if (hasBias && model.consumers(node.getInput(2)).size() == 1) {
                editor.removeInitializer(node.getInput(2));
            }
            if (model.consumers(node.getInput(1)).size() == 1) {
                editor.removeInitializer(node.getInput(1));
            }

            NodeProto.Builder depthwise = NodeProto.newBuilder().setOpType("Conv").setName(label + "_depthwise")
                    .addInput(node.getInput(0)).addInput(depthwiseWeight).addOutput(between);
            for (AttributeProto attribute : node.getAttributeList()) {
                if (!attribute.getName().equals("group")) {
                    depthwise.addAttribute(attribute);
                }
            }
            depthwise.addAttribute(AttributeProto.newBuilder().setName("group").setType(AttributeProto.AttributeType.INT)
                    .setI(channels));
            NodeProto pointwise = NodeProto.newBuilder().setOpType("Conv").setName(label + "_pointwise")
                    .addInput(between).addInput(pointwiseWeight).addInput(pointwiseBias).addOutput(node.getOutput(0))
                    .addAttribute(AttributeProto.newBuilder().setName("kernel_shape").setType(AttributeProto.AttributeType.INTS)
                            .addInts(1).addInts(1))
                    .build();
            editor.replaceNode(index, depthwise.build());
            editor.addNode(pointwise);
            replaced++;
        }
        return replaced;
    }

    /**
     * Gives every constant float weight and bias of Conv, Gemm and MatMul new values, uniform in +-1/sqrt(fan in)
     * (PyTorch's default: kaiming_uniform with a = sqrt(5) for weights, the same bound for biases), and resets every
     * BatchNormalization to scale 1, shift 0, mean 0, variance 1.
     *
     * @return how many initializers were given new values
     */
    static int reinitialize(OnnxModel model, ModelEditor editor, Random random) {
        int count = 0;
        Set<String> done = new HashSet<>();
        for (NodeProto node : model.nodes()) {
            String op = node.getOpType();
            if (op.equals("BatchNormalization")) {
                float[] fill = {1, 0, 0, 1};
                for (int i = 1; i < Math.min(5, node.getInputCount()); i++) {
                    String name = node.getInput(i);
                    if (isFloatInitializer(model, name) && done.add(name)) {
                        Tensor tensor = model.tensor(name);
                        float[] values = new float[Math.toIntExact(tensor.elementCount())];
                        Arrays.fill(values, fill[i - 1]);
                        editor.putInitializer(Tensor.fromFloats(name, DataType.FLOAT, tensor.shape(), values).toProto());
                        count++;
                    }
                }
                continue;
            }
            if (!(op.equals("Conv") || op.equals("Gemm") || op.equals("MatMul")) || node.getInputCount() < 2
                    || !isFloatInitializer(model, node.getInput(1))) {
                continue;
            }
            long[] shape = model.tensor(node.getInput(1)).shape();
            long fanIn = fanIn(node, shape);
            for (int i = 1; i < Math.min(3, node.getInputCount()); i++) {
                String name = node.getInput(i);
                if (isFloatInitializer(model, name) && done.add(name)) {
                    long[] tensorShape = model.tensor(name).shape();
                    editor.putInitializer(Tensor.fromFloats(name, DataType.FLOAT, tensorShape, uniform(random, tensorShape, fanIn))
                            .toProto());
                    count++;
                }
            }
        }
        return count;
    }

    /** The fan in of a layer's weight: Conv {@code [O, C/group, k...]}: C/group x k...; Gemm by transB; MatMul rows. */
    static long fanIn(NodeProto node, long[] weightShape) {
        if (weightShape.length == 0) {
            return 1;
        }
        if (node.getOpType().equals("Conv")) {
            long fanIn = 1;
            for (int i = 1; i < weightShape.length; i++) {
                fanIn *= weightShape[i];
            }
            return Math.max(1, fanIn);
        }
        if (node.getOpType().equals("Gemm") && NodeAttributes.getInt(node, "transB", 0) == 1 && weightShape.length == 2) {
            return Math.max(1, weightShape[1]);
        }
        return Math.max(1, weightShape[weightShape.length == 1 ? 0 : weightShape.length - 2]);
    }

    private static boolean isFloatInitializer(OnnxModel model, String name) {
        return !name.isEmpty() && model.isInitializer(name) && model.tensor(name).dataType() == DataType.FLOAT;
    }

    /** Values uniform in +-1/sqrt(fanIn), in row-major order of {@code shape}. */
    private static float[] uniform(Random random, long[] shape, long fanIn) {
        long count = 1;
        for (long dim : shape) {
            count *= dim;
        }
        double bound = 1 / Math.sqrt(fanIn);
        float[] values = new float[Math.toIntExact(count)];
        for (int i = 0; i < values.length; i++) {
            values[i] = (float) ((random.nextDouble() * 2 - 1) * bound);
        }
        return values;
    }
}
