package io.condense.plugin.training;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import ai.onnx.proto.OnnxMl.NodeProto;
import io.condense.plugin.binarization.TernarizeTechnique;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.technique.InvalidParametersException;
import io.condense.sdk.technique.Parameters;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.technique.TechniqueResult;
import io.condense.sdk.tensor.DataType;
import io.condense.sdk.training.TrainingOperators;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * TTQ end to end: LeNet-300-100 trained in the test on 4,000 Fashion-MNIST images, {@code ternarize(method=ttq,
 * keep_first_last=false)}, {@code finetune} with its defaults (Adam for TTQ layers) but 2 epochs; the written model read back and measured in
 * ONNX Runtime on the 10,000 test images, its value sets checked layer by layer.
 */
class TrainedTernaryFinetuneTest {
    private static SmallFashionLeNet lenet;

    @BeforeAll
    static void trainFloat() {
        lenet = new SmallFashionLeNet();
    }

    /**
     * Per TTQ layer of the written model, per channel when the scales are per channel: every value the two bases give is
     * Wp, 0 or -Wn, both scales positive; for one scale per layer all three values occur. Returns the layers checked, by
     * their positive levels.
     */
    private static List<String> assertTernaryValueSets(OnnxModel model) {
        List<String> checked = new java.util.ArrayList<>();
        for (NodeProto sum : model.nodes()) {
            if (!sum.getOpType().equals("Sum")) {
                continue;
            }
            NodeProto positive = model.producer(sum.getInput(0)).orElseThrow();
            NodeProto negative = model.producer(sum.getInput(1)).orElseThrow();
            int[] p = model.tensor(positive.getInput(0)).toIntArray();
            int[] n = model.tensor(negative.getInput(0)).toIntArray();
            assertThat(model.tensor(positive.getInput(0)).dataType()).isEqualTo(DataType.INT8);
            float[] wp = model.tensor(positive.getInput(1)).toFloatArray();
            float[] wn = model.tensor(negative.getInput(1)).toFloatArray();
            for (int c = 0; c < wp.length; c++) {
                assertThat(wp[c]).as("Wp[%d] of %s", c, positive.getInput(0)).isPositive();
                assertThat(wn[c]).as("Wn[%d] of %s", c, negative.getInput(0)).isPositive();
            }
            int inner = p.length / wp.length;
            Set<Float> values = new HashSet<>();
            for (int j = 0; j < p.length; j++) {
                int c = j / inner;
                assertThat(p[j]).isBetween(0, 1);
                assertThat(n[j]).isBetween(-1, 0);
                assertThat(p[j] * wp[c] + n[j] * wn[c]).isIn(wp[c], 0f, -wn[c]);
                values.add(p[j] * wp[c] + n[j] * wn[c]);
            }
            if (wp.length == 1) {
                assertThat(values).as("values of %s", sum.getOutput(0)).containsExactlyInAnyOrder(wp[0], 0f, -wn[0]);
            }
            checked.add(positive.getInput(0));
        }
        return checked;
    }

    /** The ternarized model, its accuracy, finetune's result, the written model read back and its accuracy. */
    private record TtqRun(OnnxModel ternary, double before, TechniqueResult result, OnnxModel written, double after) {
    }

    /** {@code ternarize(method=ttq, keep_first_last=false) | finetune(parameters)} on the test's LeNet-300-100. */
    private static TtqRun ttqFinetuned(Map<String, String> parameters) {
        OnnxModel ternary = lenet.apply(new TernarizeTechnique(), lenet.dense, Map.of("method", "ttq", "keep_first_last", "false"), false)
                .model();
        TechniqueResult result = lenet.apply(new FinetuneTechnique(), ternary, parameters, true);
        OnnxModel written = OnnxModel.fromBytes(result.model().toBytes());
        return new TtqRun(ternary, lenet.accuracy(ternary), result, written, lenet.accuracy(written));
    }

    @Test
    void perChannelScalesTrainAndEveryChannelHoldsItsOwnThreeValues() {
        OnnxModel ternary = lenet.apply(new TernarizeTechnique(), lenet.dense,
                Map.of("method", "ttq", "keep_first_last", "false", "ttq_scales", "channel"), false).model();
        double before = lenet.accuracy(ternary);
        TechniqueResult result = lenet.apply(new FinetuneTechnique(), ternary, Map.of("epochs", "1"), true);
        OnnxModel written = OnnxModel.fromBytes(result.model().toBytes());
        double after = lenet.accuracy(written);
        System.out.printf(Locale.ROOT, "TTQ per channel: ternarize %.4f, finetune(epochs=1) %.4f%n", before, after);
        List<String> layers = assertTernaryValueSets(written);
        assertThat(layers).hasSize(3).allSatisfy(levels -> {
            NodeProto dequantize = written.consumers(levels).get(0);
            float[] wp = written.tensor(dequantize.getInput(1)).toFloatArray();
            assertThat(wp).as("per-channel scales of %s", levels).hasSize((int) written.tensor(levels).shape()[0])
                    .isNotEqualTo(ternary.tensor(dequantize.getInput(1)).toFloatArray());
        });
        assertThat(result.report().layers()).filteredOn(layer -> "ttq".equals(layer.get("form")))
                .allSatisfy(layer -> assertThat(layer.get("scales")).isEqualTo("channel"));
        assertThat(after).as("fine-tuning recovers the per-channel TTQ model").isGreaterThan(before + 0.02);
    }

    @Test
    void theLatentsStartFromTheKeptFloatWeightsScaledToOneAndTheirMasksAreTheLevels() {
        OnnxModel ternary = lenet.apply(new TernarizeTechnique(), lenet.dense, Map.of("method", "ttq", "keep_first_last", "false"), false)
                .model();
        TrainingGraph graph = TrainingGraph.of(ternary);
        assertThat(graph.ternaryLayers()).hasSize(3);
        assertThat(graph.model().initializers()).noneMatch(info -> info.name().endsWith(TrainingOperators.TTQ_LATENT_SUFFIX));
        for (TrainedTernaryLayers.Layer layer : graph.ternaryLayers()) {
            String positiveLevels = layer.found().positiveLevels();
            float[] weights = ternary.tensor(positiveLevels + TrainingOperators.TTQ_LATENT_SUFFIX).toFloatArray();
            float[] latent = graph.model().tensor(layer.latent()).toFloatArray();
            float maximum = 0;
            for (float weight : weights) {
                maximum = Math.max(maximum, Math.abs(weight));
            }
            float largest = 0;
            int[] levels = new int[latent.length];
            for (int j = 0; j < latent.length; j++) {
                assertThat(latent[j]).isEqualTo(weights[j] / maximum);
                largest = Math.max(largest, Math.abs(latent[j]));
            }
            for (int j = 0; j < latent.length; j++) {
                levels[j] = latent[j] > 0.05f * largest ? 1 : latent[j] < -0.05f * largest ? -1 : 0;
                assertThat(levels[j]).as("element %d of %s: the training mask is the written level", j, positiveLevels)
                        .isEqualTo(layer.found().positive()[j] + layer.found().negative()[j]);
            }
        }
        OnnxModel levelsOnly = lenet.apply(new TernarizeTechnique(), lenet.dense,
                Map.of("method", "ttq", "keep_first_last", "false", "ttq_latents", "false"), false).model();
        TrainingGraph fromLevels = TrainingGraph.of(levelsOnly);
        for (TrainedTernaryLayers.Layer layer : fromLevels.ternaryLayers()) {
            assertThat(fromLevels.model().tensor(layer.latent()).toFloatArray()).as("without kept weights the latent is the levels")
                    .containsOnly(-1f, 0f, 1f);
        }
    }

    @Test
    void theLatentGradientParameterMarksEveryTrainedTernaryNode() {
        OnnxModel ternary = lenet.apply(new TernarizeTechnique(), lenet.dense, Map.of("method", "ttq", "keep_first_last", "false"), false)
                .model();
        for (boolean plain : new boolean[] {false, true}) {
            TrainingGraph graph = TrainingGraph.of(ternary, new TrainedTernaryLayers.Rule(0.05, plain), false);
            assertThat(graph.model().nodes()).filteredOn(node -> node.getOpType().equals(TrainingOperators.TRAINED_TERNARY)).hasSize(3)
                    .allSatisfy(node -> assertThat(node.getAttributeList()).as("latent_gradient attribute, plain=%s", plain)
                            .filteredOn(attribute -> attribute.getName().equals(TrainingOperators.LATENT_GRADIENT))
                            .extracting(attribute -> attribute.getS().toStringUtf8())
                            .isEqualTo(plain ? java.util.List.of(TrainingOperators.PLAIN) : java.util.List.of()));
        }
        assertThatThrownBy(() -> new TrainedTernaryLayers.Rule(1, false)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void ttqTrainsBothScalesAndRedrawsTheZerosAndKeepsTheValueSets() {
        double denseAccuracy = lenet.accuracy(lenet.dense);
        TtqRun run = ttqFinetuned(Map.of("epochs", "2"));
        OnnxModel ternary = run.ternary();
        double before = run.before();
        TechniqueResult result = run.result();
        OnnxModel written = run.written();
        double after = run.after();
        List<Map<String, Object>> layers = result.report().layers().stream().filter(layer -> "ttq".equals(layer.get("form"))).toList();
        System.out.printf(Locale.ROOT, "TTQ: float %.4f, ternarize(method=ttq) %.4f, finetune %.4f; layers %s%n", denseAccuracy, before,
                after, layers);
        assertThat(ternary.initializers()).filteredOn(info -> info.name().endsWith(TrainingOperators.TTQ_LATENT_SUFFIX)).hasSize(3);
        assertThat(written.initializers()).as("the float weights ternarize kept are gone from the written model")
                .noneMatch(info -> info.name().endsWith(TrainingOperators.TTQ_LATENT_SUFFIX));
        assertThat(layers).allSatisfy(layer -> assertThat(layer.get("latent_start")).isEqualTo("float_weights"));
        assertThat(written.nodes()).extracting(NodeProto::getOpType).containsExactlyElementsOf(
                ternary.nodes().stream().map(NodeProto::getOpType).toList());
        assertThat(assertTernaryValueSets(written)).hasSize(3);
        assertThat(layers).hasSize(3).allSatisfy(layer -> {
            assertThat((double) layer.get("positive_scale_after")).isNotEqualTo(layer.get("positive_scale_before"));
            assertThat((double) layer.get("negative_scale_after")).isNotEqualTo(layer.get("negative_scale_before"));
        });
        assertThat(layers).anySatisfy(layer -> assertThat(((Number) layer.get("levels_changed")).longValue()).isPositive());
        // the zeros move with the latent although keep_zeros is true (its default)
        assertThat(layers).anySatisfy(layer -> assertThat(layer.get("zero_levels_after")).isNotEqualTo(layer.get("zero_levels_before")));
        // with TTQ layers and no optimizer given, finetune trains with Adam at its default lr
        assertThat(result.report().get("optimizer")).isEqualTo("adam");
        assertThat(result.report().get("lr")).isEqualTo(0.001);
        assertThat(result.report().get("keep_zeros")).isEqualTo(true);
        assertThat(result.report().get("levels_kept")).isEqualTo(true);
        assertThat(after).as("fine-tuning recovers the TTQ model").isGreaterThan(before + 0.02);
        // 2 epochs on 4,000 images: the full figure is the benchmark's (README)
        assertThat(after).as("TTQ ends near float").isGreaterThan(denseAccuracy - 0.05);
    }

    @Test
    void incrementalTtqFixesTheLargestWeightsPhaseByPhaseAndEndsWithEveryLayerTernary() {
        double denseAccuracy = lenet.accuracy(lenet.dense);
        TtqRun run = ttqFinetuned(Map.of("epochs", "4", "ttq_incremental", "0.5,0.75,0.875,1"));
        OnnxModel ternary = run.ternary();
        double before = run.before();
        TechniqueResult result = run.result();
        OnnxModel written = run.written();
        double after = run.after();
        System.out.printf(Locale.ROOT, "incremental TTQ: float %.4f, ternarize(method=ttq) %.4f, finetune(epochs=4, "
                + "ttq_incremental=0.5,0.75,0.875,1) %.4f; stages %s%n", denseAccuracy, before, after,
                result.report().get("incremental_stages"));
        List<?> stages = (List<?>) result.report().get("incremental_stages");
        assertThat(stages).hasSize(3);
        double[] shares = {0.5, 0.75, 0.875};
        for (int i = 0; i < stages.size(); i++) {
            Map<?, ?> stage = (Map<?, ?>) stages.get(i);
            assertThat(stage.get("epochs")).isEqualTo(1);
            double fixed = ((Number) stage.get("ternary_fixed")).doubleValue() / ((Number) stage.get("elements")).doubleValue();
            assertThat(fixed).as("share ternary in phase %d", i + 1).isCloseTo(shares[i], org.assertj.core.data.Offset.offset(0.001));
        }
        assertThat(result.report().get("final_phase_epochs")).isEqualTo(1);
        assertThat(result.report().get("epochs")).isEqualTo(4);
        // the same nodes, every layer's values {Wp, 0, -Wn} read back, the kept float weights gone
        assertThat(written.nodes()).extracting(NodeProto::getOpType).containsExactlyElementsOf(
                ternary.nodes().stream().map(NodeProto::getOpType).toList());
        assertThat(assertTernaryValueSets(written)).hasSize(3);
        assertThat(written.initializers()).noneMatch(info -> info.name().endsWith(TrainingOperators.TTQ_LATENT_SUFFIX));
        assertThat(after).as("incremental TTQ recovers the TTQ model").isGreaterThan(before + 0.02);
        assertThat(after).as("incremental TTQ ends near float").isGreaterThan(denseAccuracy - 0.05);
    }

    @Test
    void inAnIncrementalPhaseTheFixedShareIsTernaryAndFrozenAndTheRestFloat() {
        float[] latent = {0.9f, -0.1f, 0.5f, -0.7f, 0.02f, 0.3f, -1f, 0.05f};
        boolean[] fixed = new boolean[latent.length];
        IncrementalTernary.fixLargest(latent, fixed, 0.5);
        assertThat(fixed).containsExactly(true, false, true, true, false, false, true, false);
        fixed[1] = true; // already fixed elements stay fixed and count towards the share
        IncrementalTernary.fixLargest(latent, fixed, 0.75);
        assertThat(fixed).containsExactly(true, true, true, true, false, true, true, false);
        assertThat(IncrementalTernary.phaseEpochs(15, 0, 4)).isEqualTo(3);
        assertThat(IncrementalTernary.phaseEpochs(15, 3, 4)).isEqualTo(4);
        assertThat(IncrementalTernary.phaseEpochs(2, 0, 4)).isEqualTo(1);
    }

    @Test
    void incrementalTtqRefusesBadSchedulesAndModelsWithoutTtqLayers() {
        FinetuneTechnique technique = new FinetuneTechnique();
        for (String bad : List.of("0.5,0.4,1", "0.5,0.75", "1", "half,1")) {
            assertThatThrownBy(() -> Parameters.resolve(technique, Map.of("ttq_incremental", bad)))
                    .as("ttq_incremental=%s", bad).isInstanceOf(InvalidParametersException.class).hasMessageContaining("ttq_incremental");
        }
        CondenseException error = catchThrowableOfType(CondenseException.class, () -> lenet.apply(new FinetuneTechnique(), lenet.dense,
                Map.of("epochs", "1", "ttq_incremental", "0.5,1"), true));
        assertThat(error.code()).isEqualTo(ErrorCode.INVALID_PARAMETER);
        assertThat(error.getMessage()).contains("ttq_incremental").contains("ternarize(method=ttq)");
        OnnxModel levelsOnly = lenet.apply(new TernarizeTechnique(), lenet.dense,
                Map.of("method", "ttq", "keep_first_last", "false", "ttq_latents", "false"), false).model();
        CondenseException noLatents = catchThrowableOfType(CondenseException.class, () -> lenet.apply(new FinetuneTechnique(), levelsOnly,
                Map.of("epochs", "1", "ttq_incremental", "0.5,1"), true));
        assertThat(noLatents.code()).isEqualTo(ErrorCode.UNSUPPORTED_MODEL);
        assertThat(noLatents.getMessage()).contains("ttq_latents=true");
    }
}
