package io.condense.plugin.pruning.channel;

import static io.condense.plugin.pruning.channel.ChannelPruningTest.channel;
import static io.condense.plugin.pruning.channel.ChannelPruningTest.prune;
import static io.condense.plugin.pruning.channel.ChannelPruningTest.randomInput;
import static io.condense.plugin.pruning.channel.ChannelPruningTest.run;
import static io.condense.plugin.pruning.channel.ChannelPruningTest.shape;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import io.condense.sdk.data.NdArray;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.technique.TechniqueResult;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Network slimming's pruning step: one BatchNormalization scale threshold over all layers ({@code criterion=bn_scale}, global
 * by default), the share every layer keeps whatever the threshold says, and the removed channels' constant shift folded into
 * the next layer's bias so that removing a channel whose scale is 0 changes nothing (run in ONNX Runtime).
 */
class GlobalBnScalePruningTest {

    /**
     * x [1,3,8,8] -> Conv a (3x3, no padding) -> BN -> Relu -> Conv b (3x3, no padding) -> BN -> Relu -> GlobalAveragePool
     * -> Flatten -> Gemm fc (4 classes) -> y, with the given BatchNormalization scales and shifts.
     */
    static OnnxModel twoLayers(float[] scaleA, float[] shiftA, float[] scaleB, float[] shiftB) {
        int a = scaleA.length;
        int b = scaleB.length;
        SyntheticGraph graph = new SyntheticGraph().input("x", 1, 3, 8, 8).output("y", 1, 4);
        graph.random("a.weight", a, 3, 3, 3);
        graph.random("a.bias", a);
        graph.node("Conv", "a", new String[] {"x", "a.weight", "a.bias"}, "a_out", "kernel_shape", new long[] {3, 3});
        graph.batchNormalization("bn_a", "a_out", "bn_a_out", a).node("Relu", "relu_a", new String[] {"bn_a_out"}, "relu_a_out");
        graph.random("b.weight", b, a, 3, 3);
        graph.node("Conv", "b", new String[] {"relu_a_out", "b.weight"}, "b_out", "kernel_shape", new long[] {3, 3});
        graph.batchNormalization("bn_b", "b_out", "bn_b_out", b).node("Relu", "relu_b", new String[] {"bn_b_out"}, "relu_b_out")
                .node("GlobalAveragePool", "pool", new String[] {"relu_b_out"}, "pooled")
                .node("Flatten", "flatten", new String[] {"pooled"}, "features");
        graph.random("fc.weight", 4, b);
        graph.random("fc.bias", 4);
        graph.node("Gemm", "fc", new String[] {"features", "fc.weight", "fc.bias"}, "y", "transB", 1L);
        return graph.update("bn_a.scale", scaleA).update("bn_a.bias", shiftA).update("bn_b.scale", scaleB).update("bn_b.bias", shiftB)
                .build();
    }

    static float[] filled(int count, float first, float step) {
        float[] values = new float[count];
        for (int i = 0; i < count; i++) {
            values[i] = first + step * i;
        }
        return values;
    }

    @Test
    void oneThresholdOverAllLayersTakesTheSmallScalesWhereverTheyAre() {
        // a: 16 scales from 1.0 up; b: 7 of 16 near zero, the rest from 1.25 up
        float[] scaleB = filled(16, 1.2f, 0.05f);
        for (int channel : new int[] {0, 2, 4, 6, 9, 11, 13}) {
            scaleB[channel] = 0.001f * (channel + 1);
        }
        OnnxModel model = twoLayers(filled(16, 1f, 0.05f), filled(16, 0.1f, 0f), scaleB, filled(16, 0.1f, 0f));
        TechniqueResult global = prune(model, channel("0.25", "criterion", "bn_scale", "min_elements", "0", "channel_multiple", "1"));
        // 8 of the 32 channels go: the 7 small scales of b and the smallest of a
        assertThat(shape(global.model(), "a.weight")).containsExactly(15, 3, 3, 3);
        assertThat(shape(global.model(), "b.weight")).containsExactly(9, 15, 3, 3);
        assertThat(shape(global.model(), "fc.weight")).containsExactly(4, 9);
        assertThat(global.report().get("scope")).isEqualTo("global");
        assertThat(global.report().get("channel_sparsity")).isEqualTo(0.25);
        // per layer (asked for), each loses its 4 lowest
        TechniqueResult layer = prune(model, channel("0.25", "criterion", "bn_scale", "min_elements", "0", "channel_multiple", "1",
                "scope", "layer"));
        assertThat(shape(layer.model(), "a.weight")).containsExactly(12, 3, 3, 3);
        assertThat(shape(layer.model(), "b.weight")).containsExactly(12, 12, 3, 3);
        assertThat(layer.report().get("scope")).isEqualTo("layer");
        assertThat(run(global.model(), Map.of("x", randomInput(1, 3, 8, 8))).get("y").shape()).containsExactly(1, 4);
    }

    @Test
    void everyLayerKeepsATenthOfItsChannelsWhateverTheThreshold() {
        // every scale of b is below every scale of a: the threshold alone would empty b
        OnnxModel model = twoLayers(filled(16, 1f, 0.05f), filled(16, 0.1f, 0f), filled(16, 0.001f, 0.001f), filled(16, 0.1f, 0f));
        TechniqueResult result = prune(model, channel("0.5", "criterion", "bn_scale", "min_elements", "0", "channel_multiple", "1"));
        // b keeps ceil(10% of 16) = 2, a gives the other 2 of the 16 removed
        assertThat(shape(result.model(), "b.weight")).containsExactly(2, 14, 3, 3);
        assertThat(shape(result.model(), "a.weight")).containsExactly(14, 3, 3, 3);
        // with the default channel_multiple=8 a layer loses whole blocks of 8 and keeps at least one block
        TechniqueResult blocks = prune(model, channel("0.5", "criterion", "bn_scale", "min_elements", "0"));
        assertThat(shape(blocks.model(), "b.weight")).containsExactly(8, 8, 3, 3);
        assertThat(shape(blocks.model(), "a.weight")).containsExactly(8, 3, 3, 3);
        assertThat(run(result.model(), Map.of("x", randomInput(1, 3, 8, 8))).get("y").shape()).containsExactly(1, 4);
    }

    @Test
    void removedChannelsWithZeroScaleAreFoldedIntoTheNextBiasAndTheOutputsDoNotMove() {
        float[] scaleA = filled(8, 0.5f, 0.1f);
        float[] shiftA = filled(8, 0.2f, 0.05f);
        float[] scaleB = filled(8, 0.6f, 0.1f);
        float[] shiftB = filled(8, -0.1f, 0.05f);
        // three channels output only their shift (scale 0): a constant 0.7 and 1.3 after a's Relu, 0.9 after b's
        scaleA[2] = 0f;
        shiftA[2] = 0.7f;
        scaleA[5] = 0f;
        shiftA[5] = 1.3f;
        scaleB[3] = 0f;
        shiftB[3] = 0.9f;
        OnnxModel original = twoLayers(scaleA, shiftA, scaleB, shiftB);
        TechniqueResult result = prune(original, channel("0.1875", "criterion", "bn_scale", "min_elements", "0", "channel_multiple", "1"));
        assertThat(shape(result.model(), "a.weight")).containsExactly(6, 3, 3, 3);
        assertThat(shape(result.model(), "b.weight")).containsExactly(7, 6, 3, 3);
        assertThat(result.report().get("constants_folded")).isEqualTo(3L);
        assertThat(result.report().get("biases_folded_into")).isEqualTo(2);
        // b had no bias: it has one now, with its outputs
        assertThat(shape(result.model(), "b.weight_folded_bias")).containsExactly(7);

        NdArray input = randomInput(1, 3, 8, 8);
        float[] before = run(original, Map.of("x", input)).get("y").toFloatArray();
        float[] after = run(result.model(), Map.of("x", input)).get("y").toFloatArray();
        assertThat(largestDifference(before, after)).isLessThanOrEqualTo(1e-5);
        // the constants mattered: the same model with those shifts at zero computes something else
        shiftA[2] = 0f;
        shiftA[5] = 0f;
        shiftB[3] = 0f;
        float[] withoutConstants = run(twoLayers(scaleA, shiftA, scaleB, shiftB), Map.of("x", input)).get("y").toFloatArray();
        assertThat(largestDifference(before, withoutConstants)).isGreaterThan(1e-2);
    }

    @Test
    void scopesThatDoNotApplyAreRefusedAndBnScaleNeedsBatchNormalization() {
        OnnxModel model = twoLayers(filled(8, 1f, 0.1f), filled(8, 0f, 0f), filled(8, 1f, 0.1f), filled(8, 0f, 0f));
        CondenseException l1 = catchThrowableOfType(CondenseException.class,
                () -> prune(model, channel("0.5", "criterion", "l1", "scope", "global")));
        assertThat(l1.code()).isEqualTo(ErrorCode.INVALID_PARAMETER);
        assertThat(l1.getMessage()).contains("scope").contains("criterion=bn_scale");
        CondenseException sensitivity = catchThrowableOfType(CondenseException.class,
                () -> prune(model, channel("0.5", "criterion", "bn_scale", "scope", "sensitivity")));
        assertThat(sensitivity.code()).isEqualTo(ErrorCode.INVALID_PARAMETER);
        assertThat(sensitivity.getMessage()).contains("scope").contains("structure=unstructured");

        SyntheticGraph graph = new SyntheticGraph().input("x", 1, 3, 6, 6).output("y", 1, 4);
        graph.conv("a", "x", "a_out", 3, 8, 1).node("Relu", "relu", new String[] {"a_out"}, "r")
                .node("GlobalAveragePool", "pool", new String[] {"r"}, "p").node("Flatten", "flatten", new String[] {"p"}, "f");
        graph.random("fc.weight", 4, 8);
        graph.node("Gemm", "fc", new String[] {"f", "fc.weight"}, "y", "transB", 1L);
        CondenseException none = catchThrowableOfType(CondenseException.class,
                () -> prune(graph.build(), channel("0.5", "criterion", "bn_scale", "scope", "global", "min_elements", "0")));
        assertThat(none.code()).isEqualTo(ErrorCode.NOTHING_TO_COMPRESS);
        assertThat(none.getMessage()).contains("bn_scale needs a BatchNormalization right after the layer").contains("Conv 'a'")
                .contains("criterion l1, l2 or fpgm");
    }

    private static double largestDifference(float[] expected, float[] actual) {
        assertThat(actual).hasSize(expected.length);
        double largest = 0;
        for (int i = 0; i < expected.length; i++) {
            largest = Math.max(largest, Math.abs(expected[i] - actual[i]));
        }
        return largest;
    }
}
