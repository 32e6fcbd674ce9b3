package io.condense.plugin.pruning.channel;

import static io.condense.plugin.pruning.channel.SyntheticGraph.zeroChannel;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import ai.onnx.proto.OnnxMl.NodeProto;
import io.condense.plugin.pruning.PruneTechnique;
import io.condense.sdk.data.NdArray;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.eval.InferenceSession;
import io.condense.sdk.model.NodeAttributes;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.model.channel.ChannelPruner;
import io.condense.sdk.technique.Parameters;
import io.condense.sdk.technique.TechniqueResult;
import io.condense.sdk.testkit.Evaluators;
import io.condense.sdk.testkit.SharedData;
import io.condense.sdk.testkit.TestStepContext;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The channel pruning rules on hand-written graphs. Channels whose filters (and bias, BatchNormalization shift) are zero
 * carry nothing, so removing exactly those must leave the outputs unchanged: each test zeroes some, checks that the
 * criterion chose them, and runs original and pruned models in ONNX Runtime.
 */
class ChannelPruningTest {

    static TechniqueResult prune(OnnxModel model, Map<String, String> values) {
        PruneTechnique technique = new PruneTechnique();
        Parameters parameters = Parameters.validate(technique.descriptor().parameters(), values);
        try (TestStepContext context = TestStepContext.builder().technique(technique, values).build()) {
            return technique.apply(model, parameters, context);
        }
    }

    static Map<String, String> channel(String sparsity, String... more) {
        Map<String, String> values = new HashMap<>(Map.of("structure", "channel", "sparsity", sparsity));
        for (int i = 0; i < more.length; i += 2) {
            values.put(more[i], more[i + 1]);
        }
        return values;
    }

    static Map<String, NdArray> run(OnnxModel model, Map<String, NdArray> inputs) {
        try (InferenceSession session = Evaluators.fromServiceLoader().open(OnnxModel.fromBytes(model.toBytes()))) {
            return session.run(inputs);
        }
    }

    static NdArray randomInput(long... shape) {
        Random random = new Random(11);
        float[] values = new float[Math.toIntExact(NdArray.elementCount(shape))];
        for (int i = 0; i < values.length; i++) {
            values[i] = random.nextFloat() * 2 - 1;
        }
        return NdArray.ofFloats(shape, values);
    }

    /** Runs both models on one random input: same output shapes, and the same values within {@code tolerance}. */
    static void assertSameOutputs(OnnxModel original, OnnxModel pruned, String input, long[] shape, double tolerance) {
        Map<String, NdArray> inputs = Map.of(input, randomInput(shape));
        Map<String, NdArray> before = run(original, inputs);
        Map<String, NdArray> after = run(pruned, inputs);
        assertThat(after.keySet()).isEqualTo(before.keySet());
        for (String output : before.keySet()) {
            assertThat(after.get(output).shape()).as("shape of output %s", output).isEqualTo(before.get(output).shape());
            float[] expected = before.get(output).toFloatArray();
            float[] actual = after.get(output).toFloatArray();
            double largest = 0;
            for (int i = 0; i < expected.length; i++) {
                largest = Math.max(largest, Math.abs(expected[i] - actual[i]));
            }
            assertThat(largest).as("largest difference at output %s", output).isLessThanOrEqualTo(tolerance);
        }
    }

    static long[] shape(OnnxModel model, String constant) {
        return model.tensor(constant).shape();
    }

    static NodeProto node(OnnxModel model, String name) {
        return model.nodes().stream().filter(node -> node.getName().equals(name)).findFirst().orElseThrow();
    }

    /** x -> Conv a (8) -> BatchNormalization -> Relu -> Conv b (4) -> y, with channels 1 and 5 of a carrying nothing. */
    static OnnxModel convBatchNormReluConv(boolean zeroWeights, boolean zeroScales) {
        SyntheticGraph graph = new SyntheticGraph().input("x", 1, 3, 8, 8).output("y", 1, 4, 8, 8);
        graph.conv("a", "x", "a_out", 3, 8, 1).batchNormalization("bn", "a_out", "bn_out", 8)
                .node("Relu", "relu", new String[] {"bn_out"}, "relu_out").conv("b", "relu_out", "y", 8, 4, 1);
        OnnxModel model = graph.build();
        float[] weight = model.tensor("a.weight").toFloatArray();
        float[] bias = model.tensor("a.bias").toFloatArray();
        float[] scale = model.tensor("bn.scale").toFloatArray();
        float[] shift = model.tensor("bn.bias").toFloatArray();
        float[] mean = model.tensor("bn.mean").toFloatArray();
        for (int channel : new int[] {1, 5}) {
            if (zeroWeights) {
                zeroChannel(weight, 8, channel, bias, mean);
            }
            if (zeroScales) {
                scale[channel] = 0f;
            }
            shift[channel] = 0f;
        }
        return graph.update("a.weight", weight).update("a.bias", bias).update("bn.scale", scale).update("bn.bias", shift)
                .update("bn.mean", mean).build();
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"l1", "l2", "bn_scale"})
    void convBatchNormReluConvLosesTheEmptyChannelsEverywhere(String criterion) {
        OnnxModel original = convBatchNormReluConv(!criterion.equals("bn_scale"), criterion.equals("bn_scale"));
        TechniqueResult result = prune(original, channel("0.25", "criterion", criterion, "min_elements", "0"));
        OnnxModel pruned = result.model();

        assertThat(shape(pruned, "a.weight")).containsExactly(6, 3, 3, 3);
        assertThat(shape(pruned, "a.bias")).containsExactly(6);
        for (String parameter : List.of("bn.scale", "bn.bias", "bn.mean", "bn.var")) {
            assertThat(shape(pruned, parameter)).as(parameter).containsExactly(6);
        }
        assertThat(shape(pruned, "b.weight")).containsExactly(4, 6, 3, 3);
        // the zero channels 1 and 5 are the ones removed: the outputs do not move
        assertSameOutputs(original, pruned, "x", new long[] {1, 3, 8, 8}, 1e-4);

        assertThat(result.report().get("groups_pruned")).isEqualTo(1);
        assertThat(result.report().get("criterion")).isEqualTo(criterion);
        assertThat((long) result.report().get("macs_after")).isLessThan((long) result.report().get("macs_before"));
        assertThat((long) result.report().get("parameters_after")).isLessThan((long) result.report().get("parameters_before"));
        // b's outputs are the graph output: refused, with the reason
        assertThat(result.report().get("refused").toString()).contains("Conv 'b'").contains("graph output");
        Map<String, Object> layerA = result.report().layers().stream().filter(layer -> layer.get("name").equals("a")).findFirst().orElseThrow();
        assertThat(layerA.get("shape_before")).isEqualTo(List.of(8L, 3L, 3L, 3L));
        assertThat(layerA.get("shape_after")).isEqualTo(List.of(6L, 3L, 3L, 3L));
        assertThat(layerA.get("output_sparsity")).isEqualTo(0.25);
        assertThat((long) layerA.get("macs_after")).isEqualTo((long) layerA.get("macs_before") * 6 / 8);
        Map<String, Object> layerB = result.report().layers().stream().filter(layer -> layer.get("name").equals("b")).findFirst().orElseThrow();
        assertThat(layerB.get("shape_after")).isEqualTo(List.of(4L, 6L, 3L, 3L));
        assertThat((long) layerB.get("parameters_after")).isEqualTo(4 * 6 * 9 + 4);
    }

    @Test
    void fpgmRemovesTheFiltersClosestToTheOthersAndTheModelRuns() {
        OnnxModel original = convBatchNormReluConv(false, false);
        TechniqueResult result = prune(original, channel("0.5", "criterion", "fpgm", "min_elements", "0"));
        assertThat(shape(result.model(), "a.weight")).containsExactly(4, 3, 3, 3);
        Map<String, NdArray> inputs = Map.of("x", randomInput(1, 3, 8, 8));
        assertThat(run(result.model(), inputs).get("y").shape()).containsExactly(1, 4, 8, 8);
    }

    @Test
    void residualAddPrunesTheSameChannelsOnBothBranches() {
        // x -> Conv a (8) -> Relu = r; Conv b (8) reads r; s = r + b(r); Conv c (4) reads s -> y
        SyntheticGraph graph = new SyntheticGraph().input("x", 1, 4, 6, 6).output("y", 1, 4, 6, 6);
        graph.conv("a", "x", "a_out", 4, 8, 1).node("Relu", "relu", new String[] {"a_out"}, "r")
                .conv("b", "r", "b_out", 8, 8, 1).node("Add", "add", new String[] {"r", "b_out"}, "s")
                .conv("c", "s", "y", 8, 4, 1);
        OnnxModel model = graph.build();
        float[] weightA = model.tensor("a.weight").toFloatArray();
        float[] biasA = model.tensor("a.bias").toFloatArray();
        float[] weightB = model.tensor("b.weight").toFloatArray();
        float[] biasB = model.tensor("b.bias").toFloatArray();
        zeroChannel(weightA, 8, 3, biasA);
        zeroChannel(weightB, 8, 3, biasB);
        OnnxModel original = graph.update("a.weight", weightA).update("a.bias", biasA).update("b.weight", weightB)
                .update("b.bias", biasB).build();

        TechniqueResult result = prune(original, channel("0.125", "min_elements", "0"));
        OnnxModel pruned = result.model();
        assertThat(shape(pruned, "a.weight")).containsExactly(7, 4, 3, 3);
        assertThat(shape(pruned, "b.weight")).containsExactly(7, 7, 3, 3);
        assertThat(shape(pruned, "c.weight")).containsExactly(4, 7, 3, 3);
        assertSameOutputs(original, pruned, "x", new long[] {1, 4, 6, 6}, 1e-4);
        assertThat(result.report().get("groups_pruned")).isEqualTo(1);
    }

    @Test
    void residualAddWithAGraphInputIsRefused() {
        // the skip branch is the model's input, whose channels cannot change
        SyntheticGraph graph = new SyntheticGraph().input("x", 1, 8, 6, 6).output("y", 1, 4, 6, 6);
        graph.conv("a", "x", "a_out", 8, 8, 1).node("Add", "add", new String[] {"x", "a_out"}, "s")
                .conv("c", "s", "y", 8, 4, 1);
        CondenseException error = catchThrowableOfType(CondenseException.class,
                () -> prune(graph.build(), channel("0.25", "min_elements", "0")));
        assertThat(error.code()).isEqualTo(ErrorCode.NOTHING_TO_COMPRESS);
        assertThat(error.getMessage()).contains("Add 'add'").contains("'x'");
    }

    @Test
    void concatMapsEachBranchToItsChannelRange() {
        // x -> Conv a (4) -> Relu; x -> Conv b (8) -> Relu; Concat -> Conv c (3) -> y
        SyntheticGraph graph = new SyntheticGraph().input("x", 1, 3, 5, 5).output("y", 1, 3, 5, 5);
        graph.conv("a", "x", "a_out", 3, 4, 1).node("Relu", "relu_a", new String[] {"a_out"}, "ra")
                .conv("b", "x", "b_out", 3, 8, 1).node("Relu", "relu_b", new String[] {"b_out"}, "rb")
                .node("Concat", "concat", new String[] {"ra", "rb"}, "cat", "axis", 1L)
                .conv("c", "cat", "y", 12, 3, 1);
        OnnxModel model = graph.build();
        float[] weightA = model.tensor("a.weight").toFloatArray();
        float[] biasA = model.tensor("a.bias").toFloatArray();
        float[] weightB = model.tensor("b.weight").toFloatArray();
        float[] biasB = model.tensor("b.bias").toFloatArray();
        zeroChannel(weightA, 4, 0, biasA);
        zeroChannel(weightB, 8, 4, biasB);
        zeroChannel(weightB, 8, 6, biasB);
        OnnxModel original = graph.update("a.weight", weightA).update("a.bias", biasA).update("b.weight", weightB)
                .update("b.bias", biasB).build();

        TechniqueResult result = prune(original, channel("0.25", "min_elements", "0"));
        OnnxModel pruned = result.model();
        assertThat(shape(pruned, "a.weight")).containsExactly(3, 3, 3, 3);
        assertThat(shape(pruned, "b.weight")).containsExactly(6, 3, 3, 3);
        assertThat(shape(pruned, "c.weight")).containsExactly(3, 9, 3, 3);
        assertSameOutputs(original, pruned, "x", new long[] {1, 3, 5, 5}, 1e-4);
        assertThat(result.report().get("groups_pruned")).isEqualTo(2);
    }

    @Test
    void concatWithTheModelInputKeepsTheInputRangeWhole() {
        // Concat(x, Relu(Conv a (6))) -> Conv c (2) -> y: x's 3 channels stay, a's range shrinks
        SyntheticGraph graph = new SyntheticGraph().input("x", 1, 3, 5, 5).output("y", 1, 2, 5, 5);
        graph.conv("a", "x", "a_out", 3, 6, 1).node("Relu", "relu", new String[] {"a_out"}, "ra")
                .node("Concat", "concat", new String[] {"x", "ra"}, "cat", "axis", -3L)
                .conv("c", "cat", "y", 9, 2, 1);
        OnnxModel model = graph.build();
        float[] weight = model.tensor("a.weight").toFloatArray();
        float[] bias = model.tensor("a.bias").toFloatArray();
        zeroChannel(weight, 6, 0, bias);
        zeroChannel(weight, 6, 3, bias);
        OnnxModel original = graph.update("a.weight", weight).update("a.bias", bias).build();

        TechniqueResult result = prune(original, channel("0.34", "min_elements", "0"));
        assertThat(shape(result.model(), "a.weight")).containsExactly(4, 3, 3, 3);
        assertThat(shape(result.model(), "c.weight")).containsExactly(2, 7, 3, 3);
        assertSameOutputs(original, result.model(), "x", new long[] {1, 3, 5, 5}, 1e-4);
    }

    @Test
    void perChannelConstantsShrinkWithTheChannels() {
        // Conv a (6) -> Mul [6,1,1] -> Add [1,6,1,1] -> Sub scalar -> Relu -> Conv c (2) -> y (BatchNormalization written out)
        SyntheticGraph graph = new SyntheticGraph().input("x", 1, 3, 5, 5).output("y", 1, 2, 5, 5);
        graph.conv("a", "x", "a_out", 3, 6, 1);
        graph.random("scale", 6, 1, 1);
        float[] shift = graph.random("shift", 1, 6, 1, 1);
        graph.initializer("offset", new float[] {0f}, 1);
        graph.node("Mul", "mul", new String[] {"a_out", "scale"}, "m").node("Add", "add", new String[] {"shift", "m"}, "s")
                .node("Sub", "sub", new String[] {"s", "offset"}, "d").node("Relu", "relu", new String[] {"d"}, "r")
                .conv("c", "r", "y", 6, 2, 1);
        OnnxModel model = graph.build();
        float[] weight = model.tensor("a.weight").toFloatArray();
        float[] bias = model.tensor("a.bias").toFloatArray();
        zeroChannel(weight, 6, 2, bias, shift);
        zeroChannel(weight, 6, 5, bias, shift);
        OnnxModel original = graph.update("a.weight", weight).update("a.bias", bias).update("shift", shift).build();

        TechniqueResult result = prune(original, channel("0.34", "min_elements", "0"));
        assertThat(shape(result.model(), "a.weight")).containsExactly(4, 3, 3, 3);
        assertThat(shape(result.model(), "scale")).containsExactly(4, 1, 1);
        assertThat(shape(result.model(), "shift")).containsExactly(1, 4, 1, 1);
        assertThat(shape(result.model(), "offset")).containsExactly(1);
        assertThat(shape(result.model(), "c.weight")).containsExactly(2, 4, 3, 3);
        assertSameOutputs(original, result.model(), "x", new long[] {1, 3, 5, 5}, 1e-4);
    }

    @Test
    void depthwiseConvolutionShrinksWithItsInputAndKeepsOneFilterPerChannel() {
        // x -> Conv a (8) -> BN -> Relu -> depthwise Conv (group 8) -> Relu -> Conv c (4) -> y
        SyntheticGraph graph = new SyntheticGraph().input("x", 1, 3, 6, 6).output("y", 1, 4, 6, 6);
        graph.conv("a", "x", "a_out", 3, 8, 1).batchNormalization("bn", "a_out", "bn_out", 8)
                .node("Relu", "relu", new String[] {"bn_out"}, "r").conv("dw", "r", "dw_out", 8, 8, 8)
                .node("Relu", "relu_dw", new String[] {"dw_out"}, "rd").conv("c", "rd", "y", 8, 4, 1);
        OnnxModel model = graph.build();
        float[] weight = model.tensor("a.weight").toFloatArray();
        float[] bias = model.tensor("a.bias").toFloatArray();
        float[] shift = model.tensor("bn.bias").toFloatArray();
        float[] mean = model.tensor("bn.mean").toFloatArray();
        float[] depthwiseBias = model.tensor("dw.bias").toFloatArray();
        for (int channel : new int[] {2, 7}) {
            zeroChannel(weight, 8, channel, bias, shift, mean, depthwiseBias);
        }
        OnnxModel original = graph.update("a.weight", weight).update("a.bias", bias).update("bn.bias", shift)
                .update("bn.mean", mean).update("dw.bias", depthwiseBias).build();

        TechniqueResult result = prune(original, channel("0.25", "min_elements", "0"));
        OnnxModel pruned = result.model();
        assertThat(shape(pruned, "a.weight")).containsExactly(6, 3, 3, 3);
        assertThat(shape(pruned, "dw.weight")).containsExactly(6, 1, 3, 3);
        assertThat(shape(pruned, "dw.bias")).containsExactly(6);
        assertThat(NodeAttributes.getInt(node(pruned, "dw"), "group", 1)).isEqualTo(6);
        assertThat(shape(pruned, "c.weight")).containsExactly(4, 6, 3, 3);
        assertSameOutputs(original, pruned, "x", new long[] {1, 3, 6, 6}, 1e-4);
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"Flatten", "Reshape", "Reshape-1", "ReshapeMatMul"})
    void flattenOrReshapeMapsEachChannelToItsFeatures(String variant) {
        // x -> Conv a (6) -> Relu -> MaxPool 2x2 -> Flatten/Reshape [1, 6*2*2] -> Gemm (5) or MatMul + Add -> y
        SyntheticGraph graph = new SyntheticGraph().input("x", 1, 3, 4, 4).output("y", 1, 5);
        graph.conv("a", "x", "a_out", 3, 6, 1).node("Relu", "relu", new String[] {"a_out"}, "r")
                .node("MaxPool", "pool", new String[] {"r"}, "p", "kernel_shape", new long[] {2, 2}, "strides", new long[] {2, 2});
        if (variant.equals("Flatten")) {
            graph.node("Flatten", "flatten", new String[] {"p"}, "f", "axis", 1L);
        } else {
            graph.longs("target", variant.equals("Reshape-1") ? new long[] {1, -1} : new long[] {1, 24})
                    .node("Reshape", "reshape", new String[] {"p", "target"}, "f");
        }
        if (variant.equals("ReshapeMatMul")) {
            graph.random("fc.weight", 24, 5);
            graph.random("fc.bias", 5);
            graph.node("MatMul", "fc", new String[] {"f", "fc.weight"}, "mm").node("Add", "fc_add", new String[] {"mm", "fc.bias"}, "y");
        } else {
            graph.random("fc.weight", 5, 24);
            graph.random("fc.bias", 5);
            graph.node("Gemm", "fc", new String[] {"f", "fc.weight", "fc.bias"}, "y", "transB", 1L);
        }
        OnnxModel model = graph.build();
        float[] weight = model.tensor("a.weight").toFloatArray();
        float[] bias = model.tensor("a.bias").toFloatArray();
        zeroChannel(weight, 6, 1, bias);
        zeroChannel(weight, 6, 4, bias);
        OnnxModel original = graph.update("a.weight", weight).update("a.bias", bias).build();

        TechniqueResult result = prune(original, channel("0.34", "min_elements", "0"));
        OnnxModel pruned = result.model();
        assertThat(shape(pruned, "a.weight")).containsExactly(4, 3, 3, 3);
        assertThat(shape(pruned, "fc.weight")).containsExactly(variant.equals("ReshapeMatMul") ? new long[] {16, 5} : new long[] {5, 16});
        assertSameOutputs(original, pruned, "x", new long[] {1, 3, 4, 4}, 1e-4);
        if (variant.equals("Reshape")) {
            String target = node(pruned, "reshape").getInput(1);
            assertThat(pruned.tensor(target).toLongArray()).containsExactly(1, 16);
        }
    }

    @Test
    void groupedConvolutionIsLeftAloneWithTheReasonWhileTheRestIsPruned() {
        // x -> Conv p (8) -> Relu -> Conv a (8) -> Conv g (group 2) -> y: p is prunable, a feeds a grouped convolution
        SyntheticGraph graph = new SyntheticGraph().input("x", 1, 3, 6, 6).output("y", 1, 8, 6, 6);
        graph.conv("p", "x", "p_out", 3, 8, 1).node("Relu", "relu", new String[] {"p_out"}, "r")
                .conv("a", "r", "a_out", 8, 8, 1).conv("g", "a_out", "y", 8, 8, 2);
        OnnxModel original = graph.build();
        TechniqueResult result = prune(original, channel("0.25", "min_elements", "0"));
        assertThat(shape(result.model(), "p.weight")).containsExactly(6, 3, 3, 3);
        assertThat(shape(result.model(), "a.weight")).containsExactly(8, 6, 3, 3);
        assertThat(shape(result.model(), "g.weight")).containsExactly(8, 4, 3, 3);
        assertThat(result.report().get("refused").toString()).contains("Conv 'a'").contains("grouped convolution (group=2");
        Map<String, NdArray> inputs = Map.of("x", randomInput(1, 3, 6, 6));
        assertThat(run(result.model(), inputs).get("y").shape()).containsExactly(1, 8, 6, 6);
    }

    @Test
    void excludedAndSmallLayersAreLeftAlone() {
        // x -> Conv a (8) -> Relu -> Conv b (8) -> Relu -> Conv c (4) -> y
        SyntheticGraph graph = new SyntheticGraph().input("x", 1, 3, 6, 6).output("y", 1, 4, 6, 6);
        graph.conv("a", "x", "a_out", 3, 8, 1).node("Relu", "relu_a", new String[] {"a_out"}, "ra")
                .conv("b", "ra", "b_out", 8, 8, 1).node("Relu", "relu_b", new String[] {"b_out"}, "rb")
                .conv("c", "rb", "y", 8, 4, 1);
        OnnxModel original = graph.build();
        TechniqueResult excluded = prune(original, channel("0.25", "exclude", "b*", "min_elements", "0"));
        assertThat(shape(excluded.model(), "a.weight")).containsExactly(6, 3, 3, 3);
        assertThat(shape(excluded.model(), "b.weight")).containsExactly(8, 6, 3, 3);
        assertThat(excluded.report().get("refused").toString()).contains("Conv 'b' is excluded by 'b*'");

        // a has 216 weights: below the default min_elements of 256
        TechniqueResult small = prune(original, channel("0.25"));
        assertThat(shape(small.model(), "a.weight")).containsExactly(8, 3, 3, 3);
        assertThat(shape(small.model(), "b.weight")).containsExactly(6, 8, 3, 3);
        assertThat(small.report().get("refused").toString()).contains("216 elements, fewer than min_elements=256");
        Map<String, NdArray> inputs = Map.of("x", randomInput(1, 3, 6, 6));
        assertThat(run(excluded.model(), inputs).get("y").shape()).containsExactly(1, 4, 6, 6);
        assertThat(run(small.model(), inputs).get("y").shape()).containsExactly(1, 4, 6, 6);
    }

    @Test
    void atLeastOneChannelIsKept() {
        OnnxModel original = convBatchNormReluConv(true, false);
        TechniqueResult result = prune(original, channel("0.99", "min_elements", "0"));
        assertThat(shape(result.model(), "a.weight")).containsExactly(1, 3, 3, 3);
        assertThat(run(result.model(), Map.of("x", randomInput(1, 3, 8, 8))).get("y").shape()).containsExactly(1, 4, 8, 8);
    }

    @Test
    void bnScaleWithoutBatchNormalizationIsRefusedWithTheReason() {
        SyntheticGraph graph = new SyntheticGraph().input("x", 1, 3, 6, 6).output("y", 1, 4, 6, 6);
        graph.conv("a", "x", "a_out", 3, 8, 1).node("Relu", "relu", new String[] {"a_out"}, "r").conv("c", "r", "y", 8, 4, 1);
        CondenseException error = catchThrowableOfType(CondenseException.class,
                () -> prune(graph.build(), channel("0.25", "criterion", "bn_scale", "min_elements", "0")));
        assertThat(error.code()).isEqualTo(ErrorCode.NOTHING_TO_COMPRESS);
        assertThat(error.getMessage()).contains("bn_scale needs a BatchNormalization right after the layer").contains("Conv 'a'");
    }

    @Test
    void criterionIsRefusedForUnstructuredPruning() {
        OnnxModel model = OnnxModel.load(SharedData.model("mnist8/model.onnx"));
        CondenseException error = catchThrowableOfType(CondenseException.class, () -> prune(model, Map.of("criterion", "l2")));
        assertThat(error.code()).isEqualTo(ErrorCode.INVALID_PARAMETER);
        assertThat(error.getMessage()).contains("criterion").contains("structure=channel");
        CondenseException multiple = catchThrowableOfType(CondenseException.class, () -> prune(model, Map.of("channel_multiple", "4")));
        assertThat(multiple.code()).isEqualTo(ErrorCode.INVALID_PARAMETER);
        assertThat(multiple.getMessage()).contains("channel_multiple");
    }

    @Test
    void keptChannelsAreRoundedToTheMultipleWhenTheLayerHasOne() {
        assertThat(ChannelPruner.keptCount(64, 0.05, 1)).isEqualTo(61);
        assertThat(ChannelPruner.keptCount(64, 0.05, 8)).isEqualTo(64);
        assertThat(ChannelPruner.keptCount(64, 0.1, 8)).isEqualTo(56);
        assertThat(ChannelPruner.keptCount(128, 0.05, 8)).isEqualTo(120);
        assertThat(ChannelPruner.keptCount(16, 0.25, 8)).isEqualTo(16);
        assertThat(ChannelPruner.keptCount(16, 0.5, 8)).isEqualTo(8);
        assertThat(ChannelPruner.keptCount(64, 0.99, 8)).isEqualTo(8);
        // not a multiple, or no larger than the multiple: exact
        assertThat(ChannelPruner.keptCount(12, 0.25, 8)).isEqualTo(9);
        assertThat(ChannelPruner.keptCount(8, 0.5, 8)).isEqualTo(4);
        assertThat(ChannelPruner.keptCount(8, 0.99, 8)).isEqualTo(1);

        // on a graph: a 16-channel layer at 25% keeps 16 by default (12 is not a multiple of 8), 12 with channel_multiple=1
        SyntheticGraph graph = new SyntheticGraph().input("x", 1, 3, 5, 5).output("y", 1, 2, 5, 5);
        graph.conv("a", "x", "a_out", 3, 16, 1).node("Relu", "relu", new String[] {"a_out"}, "r").conv("c", "r", "y", 16, 2, 1);
        OnnxModel model = graph.build();
        CondenseException nothing = catchThrowableOfType(CondenseException.class, () -> prune(model, channel("0.25", "min_elements", "0")));
        assertThat(nothing).isNull();
        assertThat(shape(prune(model, channel("0.25", "min_elements", "0")).model(), "a.weight")).containsExactly(16, 3, 3, 3);
        TechniqueResult exact = prune(model, channel("0.25", "min_elements", "0", "channel_multiple", "1"));
        assertThat(shape(exact.model(), "a.weight")).containsExactly(12, 3, 3, 3);
        assertThat(exact.report().get("channel_sparsity")).isEqualTo(0.25);
        TechniqueResult half = prune(model, channel("0.5", "min_elements", "0"));
        assertThat(shape(half.model(), "a.weight")).containsExactly(8, 3, 3, 3);
        assertThat(run(half.model(), Map.of("x", randomInput(1, 3, 5, 5))).get("y").shape()).containsExactly(1, 2, 5, 5);
    }

    @Test
    void modelWithoutConvOrGemmIsRefusedNamingWhatItHas() {
        OnnxModel model = OnnxModel.load(SharedData.model("skl_lr_mnist.onnx"));
        CondenseException error = catchThrowableOfType(CondenseException.class, () -> prune(model, channel("0.25")));
        assertThat(error.code()).isEqualTo(ErrorCode.NOTHING_TO_COMPRESS);
        assertThat(error.getMessage()).contains("Conv, Gemm or MatMul").contains("LinearClassifier");

        SyntheticGraph graph = new SyntheticGraph().input("x", 1, 4).output("y", 1, 4);
        graph.node("Relu", "relu", new String[] {"x"}, "y");
        CondenseException synthetic = catchThrowableOfType(CondenseException.class, () -> prune(graph.build(), channel("0.5")));
        assertThat(synthetic.code()).isEqualTo(ErrorCode.NOTHING_TO_COMPRESS);
        assertThat(synthetic.getMessage()).contains("has none").contains("Relu");
    }
}
