package io.condense.plugin.lowrank;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import io.condense.sdk.model.ModelEditor;
import io.condense.sdk.model.NodeAttributes;
import io.condense.sdk.model.WeightLayer;
import io.condense.sdk.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;

/**
 * A layer whose weight is one matrix {@code A} ({@code rows x cols}) factorised by truncated SVD into
 * {@code (U_r S_r)(V_r^T)}, written as two nodes, the bias on the second:
 * <ul>
 *   <li>Gemm: {@code A = B'} (in x out, B transposed when transB=1); {@code Gemm(X, U_r S_r) -> Gemm(., V_r^T, C)},
 *       each factor stored in the layout transB says, transA and alpha on the first node, beta on the second;</li>
 *   <li>MatMul with the weight second: {@code X A = (X U_r S_r) V_r^T}; with the weight first:
 *       {@code A X = U_r S_r (V_r^T X)};</li>
 *   <li>a 1 x 1 Conv (groups 1): {@code A} = weight as out x in; a 1 x 1 Conv to r channels (the original strides
 *       and pads) then a 1 x 1 Conv to the outputs with the bias;</li>
 *   <li>spatial SVD of a k_h x k_w Conv (Jaderberg et al. 2014, scheme 2): {@code A[(c, y), (o, x)] = W[o, c, y, x]}
 *       ((Cin k_h) x (Cout k_w)); a k_h x 1 Conv with r outputs (vertical strides, pads and dilations) then a
 *       1 x k_w Conv (horizontal ones) with the bias.</li>
 * </ul>
 */
final class MatrixFactorisation extends Factorisation {

    enum Layout { GEMM, MATMUL_RIGHT, MATMUL_LEFT, CONV_POINTWISE, CONV_SPATIAL }

    private final Layout layout;
    private final int rows;
    private final int cols;
    private final double[] matrix;
    private final double totalEnergy;
    private final ConvolutionGeometry geometry;
    private final long[] inputShape;
    private final long[] outputShape;
    private TruncatedSvd svd;
    private String solver = "none";

    /**
     * @param geometry the Conv's geometry (convolutions only, else null)
     * @param inputShape the Conv input's shape, or null when unknown (spatial SVD MACs)
     * @param outputShape the Conv output's shape, or null when unknown
     */
    MatrixFactorisation(WeightLayer layer, Tensor weight, long macsBefore, Layout layout, ConvolutionGeometry geometry,
            long[] inputShape, long[] outputShape) {
        super(layer, weight, macsBefore);
        this.layout = layout;
        this.geometry = geometry;
        this.inputShape = inputShape;
        this.outputShape = outputShape;
        long[] shape = weight.shape();
        float[] values = weight.toFloatArray();
        double[] data = new double[values.length];
        for (int i = 0; i < values.length; i++) {
            data[i] = values[i];
        }
        switch (layout) {
            case GEMM -> {
                boolean transposed = NodeAttributes.getInt(layer.node(), "transB", 0) != 0;
                int first = Math.toIntExact(shape[0]);
                int second = Math.toIntExact(shape[1]);
                this.rows = transposed ? second : first;
                this.cols = transposed ? first : second;
                this.matrix = transposed ? Nodes.transpose(data, first, second) : data;
            }
            case MATMUL_RIGHT, MATMUL_LEFT -> {
                this.rows = Math.toIntExact(shape[0]);
                this.cols = Math.toIntExact(shape[1]);
                this.matrix = data;
            }
            case CONV_POINTWISE -> {
                this.rows = Math.toIntExact(shape[0]);
                this.cols = Math.toIntExact(Nodes.product(shape, 1, shape.length));
                this.matrix = data;
            }
            case CONV_SPATIAL -> {
                int outputs = Math.toIntExact(shape[0]);
                int inputs = Math.toIntExact(shape[1]);
                int height = Math.toIntExact(shape[2]);
                int width = Math.toIntExact(shape[3]);
                this.rows = inputs * height;
                this.cols = outputs * width;
                double[] reshaped = new double[data.length];
                for (int o = 0; o < outputs; o++) {
                    for (int c = 0; c < inputs; c++) {
                        for (int y = 0; y < height; y++) {
                            int source = ((o * inputs + c) * height + y) * width;
                            int target = (c * height + y) * cols + o * width;
                            for (int x = 0; x < width; x++) {
                                reshaped[target + x] = data[source + x];
                            }
                        }
                    }
                }
                this.matrix = reshaped;
            }
            default -> throw new AssertionError(layout);
        }
        this.totalEnergy = Nodes.sumOfSquares(matrix);
    }

    @Override
    String scheme() {
        return switch (layout) {
            case GEMM, MATMUL_RIGHT, MATMUL_LEFT -> "svd";
            case CONV_POINTWISE -> "svd_pointwise";
            case CONV_SPATIAL -> "spatial_svd";
        };
    }

    @Override
    int maxRank() {
        return Math.min(rows, cols);
    }

    @Override
    String decomposedShape() {
        return (layout == Layout.CONV_SPATIAL ? "spatial matrix (Cin*kh) x (Cout*kw) " : "matrix ") + rows + " x " + cols;
    }

    /** The largest rank whose factors are smaller than the matrix: r (rows + cols) < rows cols. */
    int breakEvenRank() {
        return (int) Math.min(maxRank(), ((long) rows * cols - 1) / (rows + cols));
    }

    private int ratioRank(double ratio) {
        return (int) Math.min(maxRank(), Math.floor(ratio * rows * cols / (rows + cols)));
    }

    @Override
    void decompose(RankRule rule, boolean forCandidates, SvdSolver svdSolver) {
        int needed;
        if (forCandidates || rule instanceof RankRule.Energy) {
            needed = breakEvenRank();
        } else if (rule instanceof RankRule.Fixed fixed) {
            needed = fixed.rank();
        } else {
            needed = ratioRank(((RankRule.Ratio) rule).ratio());
        }
        if (needed >= 1 && needed <= maxRank()) {
            svd = svdSolver.decompose(matrix, rows, cols, needed);
            solver = svdSolver.name(rows, cols, needed);
        }
    }

    @Override
    String solverUsed() {
        return solver;
    }

    @Override
    Selection select(RankRule rule) {
        long dense = (long) rows * cols;
        if (rule instanceof RankRule.Fixed fixed) {
            int rank = fixed.rank();
            if ((long) rank * (rows + cols) >= dense) {
                return Selection.leftAlone("rank " + rank + " would not make it smaller: " + rank + " x (" + rows + " + " + cols
                        + ") = " + ((long) rank * (rows + cols)) + " >= " + dense + " parameters; ranks up to " + breakEvenRank()
                        + " shrink it");
            }
            return Selection.of(choice(rank));
        }
        if (rule instanceof RankRule.Ratio ratio) {
            int rank = ratioRank(ratio.ratio());
            if (rank < 1) {
                return Selection.leftAlone("ratio " + ratio.ratio() + " allows no rank: rank 1 already costs " + (rows + cols)
                        + " of its " + dense + " parameters");
            }
            return Selection.of(choice(rank));
        }
        double share = ((RankRule.Energy) rule).share();
        int limit = breakEvenRank();
        if (limit < 1) {
            return Selection.leftAlone("no rank makes a " + rows + " x " + cols + " matrix smaller");
        }
        for (int rank = 1; rank <= limit; rank++) {
            if (keptEnergy(rank) >= share - 1e-12) {
                return Selection.of(choice(rank));
            }
        }
        return Selection.leftAlone(String.format("keeping %.4f of the energy needs a rank above %d, where the factors stop "
                + "being smaller (rank %d keeps %.4f)", share, limit, limit, keptEnergy(limit)));
    }

    @Override
    List<Choice> candidates() {
        List<Choice> choices = new ArrayList<>();
        int previous = 0;
        int limit = svd == null ? 0 : Math.min(svd.rank(), breakEvenRank());
        for (double ratio : CANDIDATE_RATIOS) {
            int rank = Math.min(ratioRank(ratio), limit);
            if (rank >= 1 && rank > previous) {
                choices.add(choice(rank));
                previous = rank;
            }
        }
        return choices;
    }

    private double keptEnergy(int rank) {
        return totalEnergy == 0 ? 1.0 : Math.min(1.0, svd.energy(rank) / totalEnergy);
    }

    Choice choice(int rank) {
        if (svd == null || rank > svd.rank()) {
            throw new IllegalStateException("layer " + name() + " was decomposed to rank " + (svd == null ? 0 : svd.rank())
                    + ", not " + rank);
        }
        return new Choice(rank, rank, (long) rank * (rows + cols), macsAfter(rank), keptEnergy(rank));
    }

    private long macsAfter(int rank) {
        if (layout == Layout.CONV_SPATIAL) {
            if (inputShape == null || outputShape == null || inputShape.length != 4 || outputShape.length != 4) {
                return 0;
            }
            long[] kernel = geometry.kernel();
            long inputs = weight.shape()[1];
            long outputs = weight.shape()[0];
            long batch = outputShape[0];
            long vertical = batch * rank * outputShape[2] * inputShape[3] * inputs * kernel[0];
            long horizontal = batch * outputs * outputShape[2] * outputShape[3] * rank * kernel[1];
            return vertical + horizontal;
        }
        long positions = macsBefore / ((long) rows * cols);
        return positions * rank * (rows + cols);
    }

    @Override
    Written write(ModelEditor editor, Choice choice, long opset) {
        int rank = choice.inputRank();
        double[] left = svd.scaledLeft(rank); // rows x rank: U_r S_r
        double[] right = svd.rightTransposed(rank); // rank x cols: V_r^T
        NodeProto original = layer.node();
        String weightName = layer.weightName();
        String base = original.getName().isEmpty() ? original.getOutput(0) : original.getName();
        String hidden = editor.uniqueName(original.getOutput(0) + "_lowrank");
        NodeProto.Builder first;
        NodeProto.Builder second;
        long extraParameters = 0;
        switch (layout) {
            case GEMM -> {
                boolean transposed = NodeAttributes.getInt(original, "transB", 0) != 0;
                String firstWeight = transposed
                        ? Nodes.putWeight(editor, weightName + "_lowrank_1", weight.dataType(), new long[] {rank, rows},
                                Nodes.toFloats(Nodes.transpose(left, rows, rank)))
                        : Nodes.putWeight(editor, weightName + "_lowrank_1", weight.dataType(), new long[] {rows, rank},
                                Nodes.toFloats(left));
                String secondWeight = transposed
                        ? Nodes.putWeight(editor, weightName + "_lowrank_2", weight.dataType(), new long[] {cols, rank},
                                Nodes.toFloats(Nodes.transpose(right, rank, cols)))
                        : Nodes.putWeight(editor, weightName + "_lowrank_2", weight.dataType(), new long[] {rank, cols},
                                Nodes.toFloats(right));
                first = Nodes.node(editor, "Gemm", base + "_lowrank_1").addInput(original.getInput(0)).addInput(firstWeight);
                if (opset < 11) {
                    // C is optional only from opset 11: a zero scalar broadcast over the hidden activations
                    first.addInput(Nodes.putWeight(editor, weightName + "_lowrank_zero", weight.dataType(), new long[] {1},
                            new float[] {0f}));
                    extraParameters = 1;
                }
                second = NodeProto.newBuilder().setOpType("Gemm").setName(original.getName()).addInput(hidden).addInput(secondWeight);
                if (original.getInputCount() > 2 && !original.getInput(2).isEmpty()) {
                    second.addInput(original.getInput(2));
                }
                for (AttributeProto attribute : original.getAttributeList()) {
                    switch (attribute.getName()) {
                        case "transA", "alpha" -> first.addAttribute(attribute);
                        case "beta" -> second.addAttribute(attribute);
                        case "transB" -> {
                            first.addAttribute(attribute);
                            second.addAttribute(attribute);
                        }
                        default -> first.addAttribute(attribute); // opset < 7 'broadcast' and the like
                    }
                }
            }
            case MATMUL_RIGHT -> {
                String firstWeight = Nodes.putWeight(editor, weightName + "_lowrank_1", weight.dataType(), new long[] {rows, rank},
                        Nodes.toFloats(left));
                String secondWeight = Nodes.putWeight(editor, weightName + "_lowrank_2", weight.dataType(), new long[] {rank, cols},
                        Nodes.toFloats(right));
                first = Nodes.node(editor, "MatMul", base + "_lowrank_1").addInput(original.getInput(0)).addInput(firstWeight);
                second = NodeProto.newBuilder().setOpType("MatMul").setName(original.getName()).addInput(hidden).addInput(secondWeight);
            }
            case MATMUL_LEFT -> {
                String firstWeight = Nodes.putWeight(editor, weightName + "_lowrank_1", weight.dataType(), new long[] {rank, cols},
                        Nodes.toFloats(right));
                String secondWeight = Nodes.putWeight(editor, weightName + "_lowrank_2", weight.dataType(), new long[] {rows, rank},
                        Nodes.toFloats(left));
                first = Nodes.node(editor, "MatMul", base + "_lowrank_1").addInput(firstWeight).addInput(original.getInput(1));
                second = NodeProto.newBuilder().setOpType("MatMul").setName(original.getName()).addInput(secondWeight).addInput(hidden);
            }
            case CONV_POINTWISE -> {
                long[] shape = weight.shape();
                long[] firstShape = shape.clone();
                firstShape[0] = rank;
                long[] secondShape = shape.clone();
                secondShape[1] = rank;
                String firstWeight = Nodes.putWeight(editor, weightName + "_lowrank_1", weight.dataType(), firstShape, Nodes.toFloats(right));
                String secondWeight = Nodes.putWeight(editor, weightName + "_lowrank_2", weight.dataType(), secondShape, Nodes.toFloats(left));
                first = Nodes.node(editor, "Conv", base + "_lowrank_1").addInput(original.getInput(0)).addInput(firstWeight)
                        .addAllAttribute(original.getAttributeList());
                long[] ones = new long[shape.length - 2];
                java.util.Arrays.fill(ones, 1);
                second = NodeProto.newBuilder().setOpType("Conv").setName(original.getName()).addInput(hidden).addInput(secondWeight)
                        .addAttribute(Nodes.ints("kernel_shape", ones));
                if (original.getInputCount() > 2 && !original.getInput(2).isEmpty()) {
                    second.addInput(original.getInput(2));
                }
            }
            case CONV_SPATIAL -> {
                long outputs = weight.shape()[0];
                int inputs = Math.toIntExact(weight.shape()[1]);
                int height = Math.toIntExact(weight.shape()[2]);
                int width = Math.toIntExact(weight.shape()[3]);
                float[] vertical = new float[rank * inputs * height];
                for (int c = 0; c < inputs; c++) {
                    for (int y = 0; y < height; y++) {
                        int row = (c * height + y) * rank;
                        for (int k = 0; k < rank; k++) {
                            vertical[(k * inputs + c) * height + y] = (float) left[row + k];
                        }
                    }
                }
                float[] horizontal = new float[Math.toIntExact(outputs * rank * width)];
                for (int k = 0; k < rank; k++) {
                    int row = k * cols;
                    for (int o = 0; o < outputs; o++) {
                        for (int x = 0; x < width; x++) {
                            horizontal[(o * rank + k) * width + x] = (float) right[row + o * width + x];
                        }
                    }
                }
                String firstWeight = Nodes.putWeight(editor, weightName + "_lowrank_1", weight.dataType(),
                        new long[] {rank, inputs, height, 1}, vertical);
                String secondWeight = Nodes.putWeight(editor, weightName + "_lowrank_2", weight.dataType(),
                        new long[] {outputs, rank, 1, width}, horizontal);
                long[] strides = geometry.strides();
                long[] pads = geometry.pads();
                long[] dilations = geometry.dilations();
                first = Nodes.node(editor, "Conv", base + "_lowrank_1").addInput(original.getInput(0)).addInput(firstWeight)
                        .addAttribute(Nodes.ints("kernel_shape", height, 1))
                        .addAttribute(Nodes.ints("strides", strides[0], 1))
                        .addAttribute(Nodes.ints("pads", pads[0], 0, pads[2], 0))
                        .addAttribute(Nodes.ints("dilations", dilations[0], 1));
                second = NodeProto.newBuilder().setOpType("Conv").setName(original.getName()).addInput(hidden).addInput(secondWeight)
                        .addAttribute(Nodes.ints("kernel_shape", 1, width))
                        .addAttribute(Nodes.ints("strides", 1, strides[1]))
                        .addAttribute(Nodes.ints("pads", 0, pads[1], 0, pads[3]))
                        .addAttribute(Nodes.ints("dilations", 1, dilations[1]));
                if (original.getInputCount() > 2 && !original.getInput(2).isEmpty()) {
                    second.addInput(original.getInput(2));
                }
            }
            default -> throw new AssertionError(layout);
        }
        NodeProto firstNode = first.addOutput(hidden).build();
        NodeProto secondNode = second.setDomain(original.getDomain()).addAllOutput(original.getOutputList()).build();
        editor.addNode(firstNode);
        editor.replaceNode(layer.nodeIndex(), secondNode);
        return new Written(List.of(firstNode.getName(), secondNode.getName().isEmpty() ? secondNode.getOutput(0) : secondNode.getName()),
                extraParameters);
    }
}
