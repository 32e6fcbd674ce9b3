package io.condense.plugin.training;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.onnx.proto.OnnxMl.NodeProto;
import io.condense.plugin.binarization.BinarizeTechnique;
import io.condense.plugin.binarization.TernarizeTechnique;
import io.condense.plugin.pruning.PruneTechnique;
import io.condense.plugin.quantization.QuantizeTechnique;
import io.condense.sdk.data.Dataset;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.eval.EvaluationRequest;
import io.condense.sdk.model.InitializerInfo;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.technique.Technique;
import io.condense.sdk.technique.TechniqueResult;
import io.condense.sdk.tensor.DataType;
import io.condense.sdk.tensor.Tensor;
import io.condense.sdk.testkit.Evaluators;
import io.condense.sdk.testkit.FashionMnist;
import io.condense.sdk.testkit.TestStepContext;
import io.condense.sdk.training.LearningRateSchedule;
import io.condense.sdk.training.Optimizer;
import io.condense.sdk.training.Trainer;
import io.condense.sdk.training.TrainingRequest;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.TreeSet;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Quantization-aware and codebook fine-tuning on models written by the real {@code quantize}, {@code ternarize},
 * {@code binarize} and {@code prune}: LeNet-300-100 trained in the test on Fashion-MNIST, compressed, then
 * {@code finetune}d. Every written model is read back and measured in ONNX Runtime on the 10,000 test images; every
 * written level is checked against the levels the input used.
 */
class QuantizedFinetuneTest {
    private static final int TRAIN_SAMPLES = 8_000;
    private static final int TEST_SAMPLES = 10_000;

    private static Trainer trainer;
    private static Dataset train;
    private static Dataset test;
    private static Dataset calibration;
    private static OnnxModel dense;
    private static double denseAccuracy;

    private final FinetuneTechnique finetune = new FinetuneTechnique();

    @BeforeAll
    static void trainFloat() {
        train = FashionMnist.split("train", TRAIN_SAMPLES);
        test = FashionMnist.split("t10k", TEST_SAMPLES);
        calibration = train.head(200);
        trainer = ServiceLoader.load(Trainer.class).findFirst().orElseThrow();
        dense = trainer.train(TrainingRequest.builder(Models.leNet300100(1), train)
                .optimizer(Optimizer.sgd(0.9, 0)).schedule(new LearningRateSchedule.Cosine(0.05, 0.001))
                .epochs(3).batchSize(64).seed(1).build()).model();
        denseAccuracy = accuracy(dense);
        System.out.printf(Locale.ROOT, "QAT: float LeNet-300-100 %.4f on %d test images%n", denseAccuracy, TEST_SAMPLES);
    }

    private static double accuracy(OnnxModel model) {
        // read back from bytes: what ONNX Runtime measures is the serialized model
        OnnxModel written = OnnxModel.fromBytes(model.toBytes());
        return Evaluators.fromServiceLoader().compare(written, written, EvaluationRequest.of(test, TEST_SAMPLES)).accuracyAfter()
                .orElseThrow();
    }

    private static OnnxModel apply(Technique technique, OnnxModel model, Map<String, String> parameters) {
        try (TestStepContext context = TestStepContext.builder().technique(technique, parameters).calibrationData(calibration).build()) {
            return technique.apply(model, context.parameters(), context).model();
        }
    }

    private TechniqueResult finetune(OnnxModel model, Map<String, String> parameters) {
        try (TestStepContext context = TestStepContext.builder().technique(finetune, parameters).trainingData(train).trainer(trainer)
                .build()) {
            return finetune.apply(model, context.parameters(), context);
        }
    }

    /** Per integer initializer read by a DequantizeLinear: its element type and the levels used. */
    private static Map<String, TreeSet<Integer>> levelSets(OnnxModel model) {
        Map<String, TreeSet<Integer>> sets = new LinkedHashMap<>();
        for (NodeProto node : model.nodes()) {
            if (node.getOpType().equals("DequantizeLinear") && model.isInitializer(node.getInput(0))) {
                Tensor levels = model.tensor(node.getInput(0));
                if (levels.dataType() != DataType.FLOAT) {
                    TreeSet<Integer> set = new TreeSet<>();
                    for (int value : levels.toIntArray()) {
                        set.add(value);
                    }
                    sets.put(node.getInput(0), set);
                }
            }
        }
        return sets;
    }

    private static Map<String, DataType> types(OnnxModel model) {
        Map<String, DataType> types = new HashMap<>();
        for (InitializerInfo info : model.initializers()) {
            types.put(info.name(), info.dataType());
        }
        return types;
    }

    /** Same initializer names, types and shapes and the same nodes; every weight's levels within the input's (range or set). */
    private static void assertSameFormAndLevels(OnnxModel before, OnnxModel after, boolean exactSet) {
        assertThat(types(after)).isEqualTo(types(before));
        assertThat(after.nodes()).extracting(NodeProto::getOpType).containsExactlyElementsOf(
                before.nodes().stream().map(NodeProto::getOpType).toList());
        Map<String, TreeSet<Integer>> levelsBefore = levelSets(before);
        Map<String, TreeSet<Integer>> levelsAfter = levelSets(after);
        assertThat(levelsAfter.keySet()).isEqualTo(levelsBefore.keySet());
        levelsBefore.forEach((name, set) -> {
            if (before.tensor(name).dataType() == DataType.INT32) {
                return;
            }
            assertThat(after.tensor(name).shape()).isEqualTo(before.tensor(name).shape());
            if (exactSet) {
                assertThat(set).as("%s keeps its value set", name).containsAll(levelsAfter.get(name));
            } else {
                assertThat(levelsAfter.get(name).first()).as("%s lowest level", name).isGreaterThanOrEqualTo(set.first());
                assertThat(levelsAfter.get(name).last()).as("%s highest level", name).isLessThanOrEqualTo(set.last());
            }
        });
    }

    private static long changedLevels(OnnxModel before, OnnxModel after) {
        long changed = 0;
        for (String name : levelSets(before).keySet()) {
            int[] a = before.tensor(name).toIntArray();
            int[] b = after.tensor(name).toIntArray();
            for (int i = 0; i < a.length; i++) {
                changed += a[i] != b[i] ? 1 : 0;
            }
        }
        return changed;
    }

    @Test
    void blockedLowBitWeightsRecoverAtLeastHalfTheLoss() {
        for (String bits : List.of("4", "3", "2")) {
            OnnxModel quantized = apply(new QuantizeTechnique(), dense, Map.of("bits", bits, "granularity", "block", "block", "32"));
            double ptq = accuracy(quantized);
            TechniqueResult result = finetune(quantized, Map.of("epochs", "2", "lr", "0.01", "schedule", "cosine"));
            OnnxModel written = result.model();
            double tuned = accuracy(written);
            System.out.printf(Locale.ROOT, "QAT: quantize(bits=%s, granularity=block, block=32): float %.4f, PTQ %.4f, finetune %.4f "
                    + "(recovered %.0f%% of the loss)%n", bits, denseAccuracy, ptq, tuned, 100 * (tuned - ptq) / (denseAccuracy - ptq));
            assertSameFormAndLevels(quantized, written, false);
            assertThat(types(written).values()).contains(DataType.UINT4);
            assertThat(changedLevels(quantized, written)).as("levels trained").isPositive();
            assertThat(result.report().layers()).filteredOn(layer -> "qat".equals(layer.get("form"))).hasSize(3)
                    .allMatch(layer -> Boolean.TRUE.equals(layer.get("levels_kept")));
            double loss = denseAccuracy - ptq;
            if (bits.equals("2")) {
                assertThat(loss).as("2-bit blocks lose measurably").isGreaterThan(0.01);
            }
            if (loss > 0.01) {
                assertThat(tuned - ptq).as("recovers at least half of the %s-bit loss", bits).isGreaterThanOrEqualTo(loss / 2);
            } else {
                assertThat(tuned).as("%s-bit loss too small to halve; not worse", bits).isGreaterThan(ptq - 0.005);
            }
        }
    }

    @Test
    void ternaryKeepsItsValueSetAndTrainsItsScales() {
        for (Map<String, String> parameters : List.of(Map.of("keep_first_last", "false"),
                Map.of("keep_first_last", "false", "activations", "8"))) {
            OnnxModel ternary = apply(new TernarizeTechnique(), dense, parameters);
            double ptq = accuracy(ternary);
            TechniqueResult result = finetune(ternary, Map.of("epochs", "2", "lr", "0.01", "schedule", "cosine"));
            OnnxModel written = result.model();
            double tuned = accuracy(written);
            System.out.printf(Locale.ROOT, "QAT: ternarize(%s): float %.4f, ternary %.4f, finetune %.4f; layers %s%n", parameters,
                    denseAccuracy, ptq, tuned, result.report().layers());
            assertSameFormAndLevels(ternary, written, true);
            for (TreeSet<Integer> set : levelSets(written).values()) {
                if (set.size() <= 3) {
                    assertThat(set).isSubsetOf(-1, 0, 1);
                }
            }
            assertThat(result.report().layers()).filteredOn(layer -> "ternary".equals(layer.get("form"))).hasSize(3)
                    .allMatch(layer -> Boolean.TRUE.equals(layer.get("levels_kept")))
                    .allMatch(layer -> ((Number) layer.get("scales_changed")).longValue() > 0);
            for (InitializerInfo info : ternary.initializers()) {
                if (info.name().endsWith("_scale") && written.tensor(info.name()).elementCount() > 1
                        && levelSets(ternary).keySet().stream().anyMatch(n -> n.startsWith(info.name().replace("_scale", "")))) {
                    float[] after = written.tensor(info.name()).toFloatArray();
                    assertThat(after).as("%s trained", info.name()).isNotEqualTo(ternary.tensor(info.name()).toFloatArray());
                    for (float scale : after) {
                        assertThat(scale).as("%s positive", info.name()).isGreaterThanOrEqualTo(0f);
                    }
                }
            }
            assertThat(tuned).as("fine-tuning improves the ternary model").isGreaterThan(ptq + 0.01);
            if (parameters.containsKey("activations")) {
                assertThat(result.report().layers()).filteredOn(layer -> "int32_bias".equals(layer.get("form"))).isNotEmpty()
                        .allMatch(layer -> Boolean.TRUE.equals(layer.get("scale_rescaled")));
                assertBiasScalesFollowWeightScales(written);
            }
        }
    }

    /** Every int32 bias scale is activation scale x weight scale of the written model. */
    private static void assertBiasScalesFollowWeightScales(OnnxModel model) {
        int checked = 0;
        for (NodeProto layer : model.nodes()) {
            if (!layer.getOpType().equals("Gemm") || layer.getInputCount() < 3) {
                continue;
            }
            NodeProto bias = model.producer(layer.getInput(2)).orElse(null);
            NodeProto weight = model.producer(layer.getInput(1)).orElse(null);
            NodeProto activation = model.producer(layer.getInput(0)).orElse(null);
            if (bias == null || weight == null || activation == null || !bias.getOpType().equals("DequantizeLinear")) {
                continue;
            }
            float[] biasScales = model.tensor(bias.getInput(1)).toFloatArray();
            float[] weightScales = model.tensor(weight.getInput(1)).toFloatArray();
            float activationScale = model.tensor(activation.getInput(1)).toFloatArray()[0];
            for (int c = 0; c < biasScales.length; c++) {
                if (weightScales[c] != 0) {
                    assertThat(biasScales[c]).isCloseTo(activationScale * weightScales[c],
                            org.assertj.core.data.Percentage.withPercentage(1e-3));
                }
            }
            checked++;
        }
        assertThat(checked).isPositive();
    }

    @Test
    void binaryKeepsPlusMinusOne() {
        OnnxModel binary = apply(new BinarizeTechnique(), dense, Map.of("keep_first_last", "false"));
        double ptq = accuracy(binary);
        TechniqueResult result = finetune(binary, Map.of("epochs", "2", "lr", "0.01", "schedule", "cosine"));
        OnnxModel written = result.model();
        double tuned = accuracy(written);
        System.out.printf(Locale.ROOT, "QAT: binarize(keep_first_last=false): float %.4f, binary %.4f, finetune %.4f%n", denseAccuracy,
                ptq, tuned);
        assertSameFormAndLevels(binary, written, true);
        assertThat(levelSets(written).values()).allMatch(set -> set.equals(new TreeSet<>(List.of(-1, 1))));
        assertThat(result.report().layers()).filteredOn(layer -> "binary".equals(layer.get("form"))).hasSize(3)
                .allMatch(layer -> Boolean.TRUE.equals(layer.get("levels_kept")));
        assertThat(changedLevels(binary, written)).as("signs flipped in training").isPositive();
        assertThat(tuned).as("fine-tuning improves the binary model").isGreaterThan(ptq + 0.01);
    }

    @Test
    void prunedKmeansCodebooksTrainWithIndicesFixed() {
        OnnxModel pruned = apply(new PruneTechnique(), dense, Map.of("sparsity", "0.9", "scope", "layer", "storage", "dense"));
        OnnxModel shared = apply(new QuantizeTechnique(), pruned, Map.of("scheme", "kmeans", "bits", "4"));
        double before = accuracy(shared);
        TechniqueResult result = finetune(shared, Map.of("epochs", "2", "lr", "0.01", "schedule", "cosine"));
        OnnxModel written = result.model();
        double tuned = accuracy(written);
        System.out.printf(Locale.ROOT, "QAT: prune(0.9) | quantize(kmeans, bits=4): float %.4f, pruned %.4f, shared %.4f, finetune %.4f; "
                + "size %d -> %d bytes (float %d); layers %s%n", denseAccuracy, accuracy(pruned), before, tuned, shared.serializedSize(),
                written.serializedSize(), dense.serializedSize(), result.report().layers());
        assertThat(types(written)).isEqualTo(types(shared));
        List<Map<String, Object>> codebooks = result.report().layers().stream().filter(layer -> "codebook".equals(layer.get("form")))
                .toList();
        assertThat(codebooks).hasSize(3).allMatch(layer -> Boolean.TRUE.equals(layer.get("indices_identical")));
        int zeroEntries = 0;
        for (Map<String, Object> layer : codebooks) {
            String indices = (String) layer.get("indices");
            String codebook = (String) layer.get("name");
            assertThat(written.tensor(indices).rawByteString()).isEqualTo(shared.tensor(indices).rawByteString());
            assertThat(written.tensor(indices).dataType()).isEqualTo(DataType.UINT4);
            float[] a = shared.tensor(codebook).toFloatArray();
            float[] b = written.tensor(codebook).toFloatArray();
            assertThat(b).hasSameSizeAs(a).isNotEqualTo(a);
            for (int i = 0; i < a.length; i++) {
                if (a[i] == 0f) {
                    zeroEntries++;
                    assertThat(b[i]).as("the pruned centroid of %s stays zero", codebook).isZero();
                }
            }
        }
        System.out.printf(Locale.ROOT, "QAT: %d zero centroids kept%n", zeroEntries);
        assertThat(written.serializedSize()).as("the size of the shared model").isEqualTo(shared.serializedSize());
        assertThat(tuned).as("fine-tuning the codebooks improves the shared model").isGreaterThan(before + 0.005);
    }

    @Test
    void prunedThenBlockQuantizedWeightsKeepEveryZeroAtTheZeroPoint() {
        OnnxModel pruned = apply(new PruneTechnique(), dense, Map.of("sparsity", "0.9", "scope", "layer", "storage", "dense"));
        OnnxModel quantized = apply(new QuantizeTechnique(), pruned, Map.of("bits", "4", "granularity", "block", "block", "32"));
        double before = accuracy(quantized);
        TechniqueResult result = finetune(quantized, Map.of("epochs", "2", "lr", "0.01", "schedule", "cosine"));
        OnnxModel written = result.model();
        double tuned = accuracy(written);
        System.out.printf(Locale.ROOT, "QAT: prune(0.9) | quantize(bits=4, block=32): float %.4f, quantized %.4f, finetune %.4f%n",
                denseAccuracy, before, tuned);
        assertSameFormAndLevels(quantized, written, false);
        long pruned0 = 0;
        long kept = 0;
        for (NodeProto node : quantized.nodes()) {
            if (!node.getOpType().equals("DequantizeLinear") || !quantized.isInitializer(node.getInput(0))) {
                continue;
            }
            Tensor levels = quantized.tensor(node.getInput(0));
            int[] a = levels.toIntArray();
            int[] b = written.tensor(node.getInput(0)).toIntArray();
            int[] zeroPoints = quantized.tensor(node.getInput(2)).toIntArray();
            int[] index = TrainingGraph.parameterIndex(node.getInput(0), levels.shape(), quantized.tensor(node.getInput(1)).shape(),
                    (int) io.condense.sdk.model.NodeAttributes.getInt(node, "axis", 1),
                    io.condense.sdk.model.NodeAttributes.getInt(node, "block_size", 0));
            float[] weights = pruned.tensor(node.getInput(0).replace("_quantized", "")).toFloatArray();
            for (int i = 0; i < a.length; i++) {
                if (weights[i] == 0f) {
                    pruned0++;
                    assertThat(a[i]).as("prune's zero is quantized to the zero point").isEqualTo(zeroPoints[index[i]]);
                }
                if (a[i] == zeroPoints[index[i]]) {
                    kept++;
                    assertThat(b[i]).as("%s[%d] stays at its zero point", node.getInput(0), i).isEqualTo(zeroPoints[index[i]]);
                }
            }
        }
        assertThat(pruned0).isGreaterThan(200_000);
        assertThat(kept).isGreaterThanOrEqualTo(pruned0);
        assertThat(changedLevels(quantized, written)).isPositive();
        assertThat(tuned).as("fine-tuning recovers the pruned, quantized model").isGreaterThan(before + 0.05);
    }

    @Test
    void int8StaticQdqTrainsAndKeepsItsTypes() {
        OnnxModel int8 = apply(new QuantizeTechnique(), dense, Map.of("activations", "true"));
        double ptq = accuracy(int8);
        TechniqueResult result = finetune(int8, Map.of("epochs", "1", "lr", "0.002", "schedule", "cosine"));
        OnnxModel written = result.model();
        double tuned = accuracy(written);
        System.out.printf(Locale.ROOT, "QAT: quantize(activations=true): float %.4f, int8 %.4f, finetune %.4f%n", denseAccuracy, ptq, tuned);
        assertSameFormAndLevels(int8, written, false);
        assertThat(types(written).values()).contains(DataType.INT8, DataType.INT32, DataType.UINT8);
        assertThat(changedLevels(int8, written)).isPositive();
        assertThat(tuned).isGreaterThan(ptq - 0.01);
    }

    @Test
    void pow2IsRefusedClearly() {
        OnnxModel pow2 = apply(new QuantizeTechnique(), dense, Map.of("scheme", "pow2", "bits", "4"));
        assertThatThrownBy(() -> finetune(pow2, Map.of("epochs", "1")))
                .isInstanceOfSatisfying(CondenseException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.UNSUPPORTED_MODEL))
                .hasMessageContaining("powers of two").hasMessageContaining("fc").hasMessageContaining("scheme=uniform");
    }
}
