package io.condense.plugin.training.sparsity;

import static org.assertj.core.api.Assertions.assertThat;

import ai.onnx.proto.OnnxMl.NodeProto;
import io.condense.sdk.model.WeightLayer;
import io.condense.sdk.sparsity.NmPattern;
import io.condense.sdk.sparsity.WeightMatrix;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The masks gradual pruning gives at each step, without a trainer: counts, scopes and the N:M pattern reached gradually. */
class GradualPruningTest {
    private static final long[] FIRST = {16, 12};
    private static final long[] SECOND = {8, 16};

    private static WeightMatrix gemm(long[] shape) {
        NodeProto node = NodeProto.newBuilder().setOpType("Gemm").setName("g").addInput("x").addInput("w").addOutput("y").build();
        return WeightMatrix.of(new WeightLayer(node, 0, "w", null, 1, 0), shape);
    }

    private static Map<String, float[]> weights(long seed) {
        Random random = new Random(seed);
        Map<String, float[]> weights = new LinkedHashMap<>();
        float[] first = new float[192];
        float[] second = new float[128];
        for (int i = 0; i < first.length; i++) {
            first[i] = (float) random.nextGaussian();
        }
        for (int i = 0; i < second.length; i++) {
            second[i] = (float) random.nextGaussian() * 0.1f; // smaller: a global threshold takes more of them
        }
        weights.put("a", first);
        weights.put("b", second);
        return weights;
    }

    private static GradualPruning pruning(String scope, NmPattern pattern, double target) {
        List<GradualPruning.Layer> layers = List.of(new GradualPruning.Layer("a", gemm(FIRST), 192),
                new GradualPruning.Layer("b", gemm(SECOND), 128));
        return new GradualPruning(layers, new SparsitySchedule(SparsitySchedule.AGP, 0, target, 0, 90, 10), scope.equals("global"),
                pattern);
    }

    private static int zeros(float[] mask) {
        int zeros = 0;
        for (float value : mask) {
            zeros += value == 0f ? 1 : 0;
        }
        return zeros;
    }

    @Test
    void globalScopePrunesExactlyTheScheduledShareOverAllLayersAndTheSmallLayerMost() {
        GradualPruning pruning = pruning("global", null, 0.75);
        Map<String, float[]> masks = pruning.masks(weights(1), 0, 45, 100); // step 45: half way
        double expected = 0.75 + (0 - 0.75) * Math.pow(0.5, 3);
        assertThat(zeros(masks.get("a")) + zeros(masks.get("b"))).isEqualTo((int) Math.round(expected * 320));
        assertThat(zeros(masks.get("b")) / 128.0).isGreaterThan(zeros(masks.get("a")) / 192.0);
        assertThat(pruning.currentSparsity()).isEqualTo(Math.round(expected * 320) / 320.0);
        Map<String, float[]> end = pruning.masks(weights(1), 0, 90, 100);
        assertThat(zeros(end.get("a")) + zeros(end.get("b"))).isEqualTo(240);
        assertThat(pruning.updates()).isEqualTo(2);
    }

    @Test
    void layerScopePrunesEveryLayerToTheSparsityByMagnitude() {
        Map<String, float[]> weights = weights(2);
        Map<String, float[]> masks = pruning("layer", null, 0.5).masks(weights, 0, 90, 100);
        assertThat(zeros(masks.get("a"))).isEqualTo(96);
        assertThat(zeros(masks.get("b"))).isEqualTo(64);
        float[] a = weights.get("a");
        float largestPruned = 0;
        float smallestKept = Float.MAX_VALUE;
        for (int i = 0; i < a.length; i++) {
            if (masks.get("a")[i] == 0f) {
                largestPruned = Math.max(largestPruned, Math.abs(a[i]));
            } else {
                smallestKept = Math.min(smallestKept, Math.abs(a[i]));
            }
        }
        assertThat(largestPruned).isLessThanOrEqualTo(smallestKept);
    }

    @Test
    void aPatternIsReachedGraduallyAndHoldsInEveryGroupAtTheEnd() {
        GradualPruning pruning = pruning("layer", new NmPattern(2, 4), 0.5);
        Map<String, float[]> weights = weights(3);
        Map<String, float[]> halfway = pruning.masks(weights, 0, 45, 100);
        double share = (0.5 - 0.5 * Math.pow(0.5, 3)) / 0.5; // of the weights the full pattern removes
        assertThat(zeros(halfway.get("a"))).isEqualTo((int) Math.round(share * 96));
        Map<String, float[]> end = pruning.masks(weights, 0, 90, 100);
        for (String name : List.of("a", "b")) {
            float[] mask = end.get(name);
            long[] shape = name.equals("a") ? FIRST : SECOND;
            // Gemm with transB=0 reads [in, out]: groups of 4 consecutive inputs of one output
            int in = (int) shape[0];
            int out = (int) shape[1];
            for (int column = 0; column < out; column++) {
                for (int start = 0; start < in; start += 4) {
                    int kept = 0;
                    for (int k = start; k < start + 4; k++) {
                        kept += mask[k * out + column] != 0f ? 1 : 0;
                    }
                    assertThat(kept).as("%s output %d inputs %d..%d", name, column, start, start + 3).isEqualTo(2);
                }
            }
            // the halfway masks are a subset of the final pattern's zeros for the same weights
            for (int i = 0; i < mask.length; i++) {
                if (halfway.get(name)[i] == 0f) {
                    assertThat(mask[i]).isZero();
                }
            }
        }
    }
}
