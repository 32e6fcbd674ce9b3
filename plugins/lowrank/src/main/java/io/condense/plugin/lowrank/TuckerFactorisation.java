package io.condense.plugin.lowrank;

import ai.onnx.proto.OnnxMl.NodeProto;
import io.condense.sdk.model.ModelEditor;
import io.condense.sdk.model.WeightLayer;
import io.condense.sdk.tensor.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Tucker-2 decomposition of a k x k convolution (Kim et al. 2016) by HOSVD on the two channel modes: the leading
 * left singular vectors of the output-channel unfolding ({@code Cout x Cin k^2}) give {@code U_out}
 * ({@code Cout x r_out}), those of the input-channel unfolding ({@code Cin x Cout k^2}) give {@code U_in}
 * ({@code Cin x r_in}), and the core is {@code G = W x_0 U_out^T x_1 U_in^T} ({@code r_out x r_in x k x k}).
 * Written as a 1 x 1 Conv {@code Cin -> r_in} (weight {@code U_in^T}), the k x k core Conv {@code r_in -> r_out}
 * with the original strides, pads and dilations, and a 1 x 1 Conv {@code r_out -> Cout} (weight {@code U_out})
 * with the bias. The approximation is W projected on both channel subspaces, so the kept energy is
 * {@code ||G||^2 / ||W||^2} exactly.
 */
final class TuckerFactorisation extends Factorisation {
    private final int outputs;
    private final int inputs;
    private final int kernelArea;
    private final double[] values;
    private final double totalEnergy;
    private final long[] inputShape;
    private final long[] outputShape;
    private TruncatedSvd outputMode;
    private TruncatedSvd inputMode;
    private String solver = "none";

    TuckerFactorisation(WeightLayer layer, Tensor weight, long macsBefore, long[] inputShape, long[] outputShape) {
        super(layer, weight, macsBefore);
        long[] shape = weight.shape();
        this.outputs = Math.toIntExact(shape[0]);
        this.inputs = Math.toIntExact(shape[1]);
        this.kernelArea = Math.toIntExact(Nodes.product(shape, 2, shape.length));
        float[] floats = weight.toFloatArray();
        this.values = new double[floats.length];
        for (int i = 0; i < floats.length; i++) {
            values[i] = floats[i];
        }
        this.totalEnergy = Nodes.sumOfSquares(values);
        this.inputShape = inputShape;
        this.outputShape = outputShape;
    }

    @Override
    String scheme() {
        return "tucker2";
    }

    @Override
    int maxRank() {
        return Math.min(inputs, outputs);
    }

    @Override
    String decomposedShape() {
        return "unfoldings " + outputs + " x " + ((long) inputs * kernelArea) + " (output channels) and " + inputs + " x "
                + ((long) outputs * kernelArea) + " (input channels)";
    }

    @Override
    void decompose(RankRule rule, boolean forCandidates, SvdSolver svdSolver) {
        // channel counts of convolutions are small: both modes are decomposed fully, every rank pair is then at hand
        int outputRank = Math.min(outputs, inputs * kernelArea);
        int inputRank = Math.min(inputs, outputs * kernelArea);
        double[] inputUnfolding = new double[values.length];
        int columns = outputs * kernelArea;
        for (int o = 0; o < outputs; o++) {
            for (int c = 0; c < inputs; c++) {
                System.arraycopy(values, (o * inputs + c) * kernelArea, inputUnfolding, c * columns + o * kernelArea, kernelArea);
            }
        }
        outputMode = svdSolver.decompose(values, outputs, inputs * kernelArea, outputRank);
        inputMode = svdSolver.decompose(inputUnfolding, inputs, columns, inputRank);
        solver = svdSolver.name(outputs, inputs * kernelArea, outputRank);
    }

    @Override
    String solverUsed() {
        return solver;
    }

    long parameters(int inputRank, int outputRank) {
        return (long) inputs * inputRank + (long) inputRank * outputRank * kernelArea + (long) outputRank * outputs;
    }

    @Override
    Selection select(RankRule rule) {
        long dense = parametersBefore();
        if (rule instanceof RankRule.Fixed fixed) {
            int rank = fixed.rank();
            if (parameters(rank, rank) >= dense) {
                return Selection.leftAlone("ranks (" + rank + ", " + rank + ") would not make it smaller: " + parameters(rank, rank)
                        + " >= " + dense + " parameters");
            }
            return Selection.of(choice(rank, rank));
        }
        if (rule instanceof RankRule.Ratio ratio) {
            Choice choice = forBudget(ratio.ratio() * dense);
            return choice == null
                    ? Selection.leftAlone("ratio " + ratio.ratio() + " allows no ranks: ranks (1, 1) already cost " + parameters(1, 1)
                            + " of its " + dense + " parameters")
                    : Selection.of(choice);
        }
        double share = ((RankRule.Energy) rule).share();
        int inputRank = modeRank(inputMode, share);
        int outputRank = modeRank(outputMode, share);
        if (parameters(inputRank, outputRank) >= dense) {
            return Selection.leftAlone(String.format("keeping %.4f of each channel mode's energy needs ranks (%d, %d), "
                    + "which are no smaller: %d >= %d parameters", share, inputRank, outputRank, parameters(inputRank, outputRank), dense));
        }
        return Selection.of(choice(inputRank, outputRank));
    }

    private int modeRank(TruncatedSvd mode, double share) {
        double total = mode.energy(mode.rank());
        for (int rank = 1; rank <= mode.rank(); rank++) {
            if (total == 0 || mode.energy(rank) >= share * total - 1e-12 * total) {
                return rank;
            }
        }
        return mode.rank();
    }

    /** The largest ranks in proportion to the channel counts whose parameters fit the budget, or null. */
    private Choice forBudget(double budget) {
        int larger = Math.max(inputs, outputs);
        for (int step = larger; step >= 1; step--) {
            int inputRank = (int) Math.max(1, Math.min(inputMode.rank(), Math.round((double) step * inputs / larger)));
            int outputRank = (int) Math.max(1, Math.min(outputMode.rank(), Math.round((double) step * outputs / larger)));
            if (parameters(inputRank, outputRank) <= budget) {
                return choice(inputRank, outputRank);
            }
        }
        return null;
    }

    @Override
    List<Choice> candidates() {
        List<Choice> choices = new ArrayList<>();
        long previous = -1;
        for (double ratio : CANDIDATE_RATIOS) {
            Choice choice = forBudget(ratio * parametersBefore());
            if (choice != null && choice.parameters() != previous && choice.parameters() < parametersBefore()) {
                choices.add(choice);
                previous = choice.parameters();
            }
        }
        return choices;
    }

    Choice choice(int inputRank, int outputRank) {
        double kept = totalEnergy == 0 ? 1.0 : Math.min(1.0, Nodes.sumOfSquares(core(inputRank, outputRank)) / totalEnergy);
        return new Choice(inputRank, outputRank, parameters(inputRank, outputRank), macsAfter(inputRank, outputRank), kept);
    }

    private long macsAfter(int inputRank, int outputRank) {
        if (inputShape == null || outputShape == null || inputShape.length < 3 || outputShape.length != inputShape.length) {
            return 0;
        }
        long inputPositions = Nodes.product(inputShape, 2, inputShape.length) * inputShape[0];
        long outputPositions = Nodes.product(outputShape, 2, outputShape.length) * outputShape[0];
        return inputPositions * inputs * inputRank
                + outputPositions * inputRank * outputRank * kernelArea
                + outputPositions * outputRank * outputs;
    }

    /** G[a, b, s] = sum over o, c of U_out[o, a] U_in[c, b] W[o, c, s], flat {@code r_out x r_in x k^2}. */
    double[] core(int inputRank, int outputRank) {
        // T[o, b, s] = sum_c U_in[c, b] W[o, c, s]
        double[] partial = new double[outputs * inputRank * kernelArea];
        for (int o = 0; o < outputs; o++) {
            for (int c = 0; c < inputs; c++) {
                int source = (o * inputs + c) * kernelArea;
                for (int b = 0; b < inputRank; b++) {
                    double factor = inputMode.left(c, b);
                    int target = (o * inputRank + b) * kernelArea;
                    for (int s = 0; s < kernelArea; s++) {
                        partial[target + s] += factor * values[source + s];
                    }
                }
            }
        }
        int slice = inputRank * kernelArea;
        double[] core = new double[outputRank * slice];
        for (int o = 0; o < outputs; o++) {
            for (int a = 0; a < outputRank; a++) {
                double factor = outputMode.left(o, a);
                int target = a * slice;
                int source = o * slice;
                for (int i = 0; i < slice; i++) {
                    core[target + i] += factor * partial[source + i];
                }
            }
        }
        return core;
    }

    @Override
    Written write(ModelEditor editor, Choice choice, long opset) {
        int inputRank = choice.inputRank();
        int outputRank = choice.outputRank();
        NodeProto original = layer.node();
        String weightName = layer.weightName();
        String base = original.getName().isEmpty() ? original.getOutput(0) : original.getName();
        long[] shape = weight.shape();
        int spatial = shape.length - 2;
        long[] ones = new long[spatial];
        Arrays.fill(ones, 1);

        float[] first = new float[inputRank * inputs];
        for (int b = 0; b < inputRank; b++) {
            for (int c = 0; c < inputs; c++) {
                first[b * inputs + c] = (float) inputMode.left(c, b);
            }
        }
        float[] last = new float[outputs * outputRank];
        for (int o = 0; o < outputs; o++) {
            for (int a = 0; a < outputRank; a++) {
                last[o * outputRank + a] = (float) outputMode.left(o, a);
            }
        }
        long[] firstShape = shape.clone();
        firstShape[0] = inputRank;
        System.arraycopy(ones, 0, firstShape, 2, spatial);
        long[] coreShape = shape.clone();
        coreShape[0] = outputRank;
        coreShape[1] = inputRank;
        long[] lastShape = shape.clone();
        lastShape[1] = outputRank;
        System.arraycopy(ones, 0, lastShape, 2, spatial);
        String firstWeight = Nodes.putWeight(editor, weightName + "_tucker_in", weight.dataType(), firstShape, first);
        String coreWeight = Nodes.putWeight(editor, weightName + "_tucker_core", weight.dataType(), coreShape,
                Nodes.toFloats(core(inputRank, outputRank)));
        String lastWeight = Nodes.putWeight(editor, weightName + "_tucker_out", weight.dataType(), lastShape, last);

        String reduced = editor.uniqueName(original.getOutput(0) + "_tucker_in");
        String convolved = editor.uniqueName(original.getOutput(0) + "_tucker_core");
        NodeProto firstNode = Nodes.node(editor, "Conv", base + "_tucker_in").addInput(original.getInput(0)).addInput(firstWeight)
                .addAttribute(Nodes.ints("kernel_shape", ones)).addOutput(reduced).build();
        // the core keeps every original attribute (kernel, strides, pads or auto_pad, dilations); group is 1 here
        NodeProto coreNode = Nodes.node(editor, "Conv", base + "_tucker_core").addInput(reduced).addInput(coreWeight)
                .addAllAttribute(original.getAttributeList()).addOutput(convolved).build();
        NodeProto.Builder lastNode = NodeProto.newBuilder().setOpType("Conv").setName(original.getName()).setDomain(original.getDomain())
                .addInput(convolved).addInput(lastWeight).addAttribute(Nodes.ints("kernel_shape", ones));
        if (original.getInputCount() > 2 && !original.getInput(2).isEmpty()) {
            lastNode.addInput(original.getInput(2));
        }
        NodeProto written = lastNode.addAllOutput(original.getOutputList()).build();
        editor.addNode(firstNode);
        editor.addNode(coreNode);
        editor.replaceNode(layer.nodeIndex(), written);
        return new Written(List.of(firstNode.getName(), coreNode.getName(),
                written.getName().isEmpty() ? written.getOutput(0) : written.getName()), 0);
    }
}
