package io.condense.plugin.training;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.condense.plugin.pruning.PruneTechnique;
import io.condense.sdk.data.Dataset;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.eval.EvaluationRequest;
import io.condense.sdk.eval.EvaluationResult;
import io.condense.sdk.model.InitializerInfo;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.technique.InvalidParametersException;
import io.condense.sdk.technique.TechniqueResult;
import io.condense.sdk.tensor.DataType;
import io.condense.sdk.testkit.Evaluators;
import io.condense.sdk.testkit.FashionMnist;
import io.condense.sdk.testkit.TestStepContext;
import io.condense.sdk.training.LearningRateSchedule;
import io.condense.sdk.training.Optimizer;
import io.condense.sdk.training.Trainer;
import io.condense.sdk.training.TrainingRequest;
import io.condense.sdk.training.TrainingSteps;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * LeNet-300-100 trained briefly on Fashion-MNIST by the host's trainer, pruned to 92% by the real {@code prune}
 * technique, then fine-tuned by {@code finetune}: accuracy collapses with pruning alone and comes back with
 * fine-tuning, every pruned zero stays exactly zero, and ONNX Runtime measures on the written model what the
 * report says. Plus the refusals.
 */
class FinetuneTechniqueTest {
    private static final int TRAIN_SAMPLES = 12_000;
    private static final int TEST_SAMPLES = 10_000;

    private static Trainer trainer;
    private static Dataset train;
    private static Dataset test;
    private static OnnxModel dense;
    private static double denseAccuracy;
    private static OnnxModel pruned;
    private static double prunedAccuracy;

    private final FinetuneTechnique technique = new FinetuneTechnique();

    @BeforeAll
    static void trainAndPrune() {
        train = FashionMnist.split("train", TRAIN_SAMPLES);
        test = FashionMnist.split("t10k", TEST_SAMPLES);
        trainer = ServiceLoader.load(Trainer.class).findFirst().orElseThrow(() -> new IllegalStateException(
                "no Trainer on the test class path: condense-training must be a test dependency"));
        dense = trainer.train(TrainingRequest.builder(Models.leNet300100(1), train)
                .optimizer(Optimizer.sgd(0.9, 0)).schedule(new LearningRateSchedule.Cosine(0.05, 0.001))
                .epochs(3).batchSize(64).seed(1).build()).model();
        denseAccuracy = onnxRuntimeAccuracy(dense);

        PruneTechnique prune = new PruneTechnique();
        try (TestStepContext context = TestStepContext.builder()
                .technique(prune, Map.of("sparsity", "0.92", "scope", "layer", "storage", "dense")).build()) {
            pruned = prune.apply(dense, context.parameters(), context).model();
        }
        prunedAccuracy = onnxRuntimeAccuracy(pruned);
        System.out.printf(java.util.Locale.ROOT, "dense LeNet-300-100: %.4f on %d test images; pruned to 92%%: %.4f%n",
                denseAccuracy, TEST_SAMPLES, prunedAccuracy);
    }

    private static double onnxRuntimeAccuracy(OnnxModel model) {
        EvaluationResult result = Evaluators.fromServiceLoader().compare(model, model, EvaluationRequest.of(test, TEST_SAMPLES));
        return result.accuracyAfter().orElseThrow();
    }

    private TestStepContext.Builder context(Map<String, String> parameters) {
        return TestStepContext.builder().technique(technique, parameters).trainingData(train).trainer(trainer);
    }

    @Test
    void pruneThenFinetuneRecoversAccuracyAndKeepsEveryZero() {
        assertThat(prunedAccuracy).as("pruning to 92%% without training loses tens of points").isLessThan(denseAccuracy - 0.10);

        TechniqueResult result;
        try (TestStepContext context = context(Map.of("epochs", "6", "lr", "0.02", "schedule", "cosine", "validation", "0.1"))
                .evaluationData(test).build()) {
            result = technique.apply(pruned, context.parameters(), context);
            assertThat(context.progressEvents()).extracting(TestStepContext.ProgressEvent::message)
                    .anyMatch(message -> message.startsWith("epoch 6/6 batch"))
                    .anyMatch(message -> message.startsWith("epoch 1: loss"));
            assertThat(context.progressEvents()).allMatch(event -> event.fraction() >= 0 && event.fraction() <= 1);
        }

        // the written model, read back, runs in ONNX Runtime
        Path file = Path.of("target", "finetuned-lenet-300-100.onnx");
        result.model().save(file);
        OnnxModel written = OnnxModel.load(file);
        double finetunedAccuracy = onnxRuntimeAccuracy(written);
        System.out.printf(java.util.Locale.ROOT, "finetune(epochs=6, lr=0.02, schedule=cosine): %.4f (dense %.4f, pruned %.4f); report %s%n",
                finetunedAccuracy, denseAccuracy, prunedAccuracy, result.report().toJson());

        assertThat(finetunedAccuracy).as("fine-tuning recovers to within half a point of the dense model")
                .isGreaterThan(denseAccuracy - 0.005);
        assertThat((double) result.report().get("accuracy_after")).isEqualTo(finetunedAccuracy);
        assertThat((double) result.report().get("accuracy_before")).isEqualTo(prunedAccuracy);
        assertThat(result.report().get("accuracy_measured_by")).isEqualTo("onnxruntime");
        assertThat(trainer.accuracy(written, test, 1f, 256)).as("the training runtime agrees with ONNX Runtime")
                .isCloseTo(finetunedAccuracy, org.assertj.core.data.Offset.offset(0.002));
        assertThat((double) result.report().get("validation_accuracy_after"))
                .isGreaterThan((double) result.report().get("validation_accuracy_before") + 0.05);
        assertThat((List<?>) result.report().get("history")).hasSize(6);

        long zeros = 0;
        for (InitializerInfo info : pruned.initializers()) {
            float[] before = pruned.tensor(info.name()).toFloatArray();
            float[] after = written.tensor(info.name()).toFloatArray();
            int changed = 0;
            for (int i = 0; i < before.length; i++) {
                if (before[i] == 0f) {
                    zeros++;
                    assertThat(after[i]).as("%s[%d] was pruned", info.name(), i).isEqualTo(0f);
                } else if (after[i] != before[i]) {
                    changed++;
                }
            }
            if (info.name().endsWith(".weight")) {
                assertThat(changed).as("%s's kept weights trained", info.name()).isPositive();
            }
        }
        assertThat(zeros).as("prune left 92%% of the weights zero").isGreaterThan(240_000);
        assertThat(((Number) result.report().get("zeros_kept")).longValue()).isEqualTo(zeros);
    }

    @Test
    void weightsPruneStoredSparseAreWrittenSparseAgain() {
        OnnxModel sparse;
        PruneTechnique prune = new PruneTechnique();
        try (TestStepContext context = TestStepContext.builder().technique(prune, Map.of("sparsity", "0.92", "scope", "layer")).build()) {
            sparse = prune.apply(dense, context.parameters(), context).model();
        }
        List<String> sparseNames = sparse.initializers().stream().filter(InitializerInfo::sparse).map(InitializerInfo::name).toList();
        assertThat(sparseNames).as("prune stores 92%%-sparse weights sparse").isNotEmpty();

        try (TestStepContext context = context(Map.of("epochs", "1", "validation", "0")).build()) {
            TechniqueResult result = technique.apply(sparse, context.parameters(), context);
            OnnxModel written = result.model();
            assertThat(written.initializers().stream().filter(InitializerInfo::sparse).map(InitializerInfo::name).toList())
                    .containsExactlyInAnyOrderElementsOf(sparseNames);
            assertThat(result.report().get("sparse_initializers")).isEqualTo((long) sparseNames.size());
            assertThat(written.serializedSize()).as("still the size of a pruned model").isLessThan(pruned.serializedSize() / 2);
            for (String name : sparseNames) {
                float[] before = sparse.tensor(name).toFloatArray();
                float[] after = written.tensor(name).toFloatArray();
                for (int i = 0; i < before.length; i++) {
                    if (before[i] == 0f) {
                        assertThat(after[i]).as("%s[%d]", name, i).isZero();
                    }
                }
                assertThat(after).as("%s trained", name).isNotEqualTo(before);
            }
            // the sparse form loads and runs in ONNX Runtime, with the accuracy of its dense twin
            assertThat(onnxRuntimeAccuracy(OnnxModel.fromBytes(written.toBytes()))).isEqualTo(onnxRuntimeAccuracy(TrainingSteps.densified(written)));
        }
    }

    @Test
    void keepZerosFalseTrainsThePrunedWeightsToo() {
        try (TestStepContext context = context(Map.of("epochs", "1", "keep_zeros", "false", "validation", "0")).build()) {
            OnnxModel result = technique.apply(pruned, context.parameters(), context).model();
            float[] before = pruned.tensor("fc1.weight").toFloatArray();
            float[] after = result.tensor("fc1.weight").toFloatArray();
            long revived = 0;
            for (int i = 0; i < before.length; i++) {
                if (before[i] == 0f && after[i] != 0f) {
                    revived++;
                }
            }
            assertThat(revived).isGreaterThan(before.length / 2);
        }
    }

    @Test
    void refusesWithoutTrainingData() {
        try (TestStepContext context = TestStepContext.builder().technique(technique, Map.of()).trainer(trainer).build()) {
            assertThatThrownBy(() -> technique.apply(pruned, context.parameters(), context))
                    .isInstanceOfSatisfying(CondenseException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.DATA_REQUIRED))
                    .hasMessageContaining("--train-data").hasMessageContaining("--train-labels");
        }
    }

    @Test
    void refusesWithoutATrainerOnTheHost() {
        try (TestStepContext context = TestStepContext.builder().technique(technique, Map.of()).trainingData(train).build()) {
            assertThatThrownBy(() -> technique.apply(pruned, context.parameters(), context))
                    .isInstanceOfSatisfying(CondenseException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.UNAVAILABLE))
                    .hasMessageContaining("training runtime");
        }
    }

    @Test
    void refusesIntegerOperatorsAndUnsupportedOperators() {
        try (TestStepContext context = context(Map.of()).build()) {
            assertThatThrownBy(() -> technique.apply(Models.withIntegerMatMul(), context.parameters(), context))
                    .isInstanceOfSatisfying(CondenseException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.UNSUPPORTED_MODEL))
                    .hasMessageContaining("MatMulInteger").hasMessageContaining("QDQ form");
            assertThatThrownBy(() -> technique.apply(Models.withErf(), context.parameters(), context))
                    .isInstanceOfSatisfying(CondenseException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.UNSUPPORTED_MODEL))
                    .hasMessageContaining("Erf");
            assertThat(context.progressEvents()).isEmpty();
        }
    }

    @Test
    void refusesMomentumWithAdam() {
        try (TestStepContext context = context(Map.of("optimizer", "adam", "momentum", "0.5")).build()) {
            assertThatThrownBy(() -> technique.apply(pruned, context.parameters(), context))
                    .isInstanceOf(InvalidParametersException.class).hasMessageContaining("momentum");
        }
    }

    @Test
    void stopsWhenCancelled() {
        try (TestStepContext context = context(Map.of("epochs", "2")).cancelAfterProgressEvents(5).build()) {
            assertThatThrownBy(() -> technique.apply(pruned, context.parameters(), context))
                    .isInstanceOfSatisfying(CondenseException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.CANCELLED));
            assertThat(context.progressEvents().size()).isLessThan(20);
        }
    }

    @Test
    void sameSeedSameWeightsAndTheDescriptorIsComplete() {
        assertThat(technique.descriptor().id()).isEqualTo("finetune");
        assertThat(technique.descriptor().parameters()).extracting(spec -> spec.name()).contains("epochs", "lr", "batch",
                "optimizer", "momentum", "weight_decay", "schedule", "seed", "keep_zeros", "validation");
        Dataset small = train.head(1_000);
        float[][] weights = new float[2][];
        for (int run = 0; run < 2; run++) {
            try (TestStepContext context = TestStepContext.builder().technique(technique, Map.of("epochs", "1", "optimizer", "adam",
                    "schedule", "step", "weight_decay", "0.0001")).trainingData(small).trainer(trainer).build()) {
                weights[run] = technique.apply(pruned, context.parameters(), context).model().tensor("fc2.weight").toFloatArray();
            }
        }
        assertThat(weights[1]).containsExactly(weights[0]);
        assertThat(pruned.tensor("fc2.weight").dataType()).isEqualTo(DataType.FLOAT);
    }

    @Test
    void withEvaluationDataEveryTrainingSampleTrainsUnlessValidationIsGiven() {
        Dataset data = train.head(500);
        for (Map<String, String> given : List.of(Map.of("epochs", "1"), Map.of("epochs", "1", "validation", "0.2"))) {
            try (TestStepContext context = TestStepContext.builder().technique(technique, given).trainingData(data).trainer(trainer)
                    .evaluationData(test.head(200)).build()) {
                TechniqueResult result = technique.apply(pruned, context.parameters(), context);
                int heldOut = given.containsKey("validation") ? 100 : 0;
                assertThat(result.report().get("validation_samples")).as("%s", given).isEqualTo(heldOut);
                assertThat(result.report().get("training_samples")).as("%s", given).isEqualTo(500 - heldOut);
            }
        }
        try (TestStepContext context = TestStepContext.builder().technique(technique, Map.of("epochs", "1")).trainingData(data)
                .trainer(trainer).build()) {
            assertThat(technique.apply(pruned, context.parameters(), context).report().get("validation_samples"))
                    .as("without evaluation data a tenth is held out").isEqualTo(50);
        }
    }

    @Test
    void weightDecayDefaultsToTheCaffeSolversWithSgdOnly() {
        Map<Map<String, String>, Double> expected = new java.util.LinkedHashMap<>();
        expected.put(Map.of("epochs", "1"), 0.0005);
        expected.put(Map.of("epochs", "1", "optimizer", "adam"), 0.0);
        expected.put(Map.of("epochs", "1", "sparsity", "0.95"), 0.0);
        expected.put(Map.of("epochs", "1", "l1", "0.0001"), 0.0);
        expected.put(Map.of("epochs", "1", "weight_decay", "0.001"), 0.001);
        expected.put(Map.of("epochs", "1", "sparsity", "0.95", "weight_decay", "0.0001"), 0.0001);
        for (Map.Entry<Map<String, String>, Double> entry : expected.entrySet()) {
            try (TestStepContext context = TestStepContext.builder().technique(technique, entry.getKey()).trainingData(train.head(200))
                    .trainer(trainer).build()) {
                TechniqueResult result = technique.apply(pruned, context.parameters(), context);
                assertThat((double) result.report().get("weight_decay")).as("%s", entry.getKey()).isEqualTo(entry.getValue());
            }
        }
    }

    @Test
    void theDefaultScheduleIsCosine() {
        // issue 16: the schedule a user would choose after reading the papers (the README's "Defaults" measures it)
        try (TestStepContext context = TestStepContext.builder().technique(technique, Map.of("epochs", "1"))
                .trainingData(train.head(500)).trainer(trainer).build()) {
            assertThat(context.parameters().isExplicit("schedule")).isFalse();
            TechniqueResult result = technique.apply(pruned, context.parameters(), context);
            assertThat(result.report().get("schedule")).isEqualTo("cosine");
        }
    }

    @Test
    void distillationLearnsTheJobModelsAnswersNotTheLabels() {
        // every label wrong (shifted by one class): labels alone teach the pruned model wrong answers, the job's model with
        // distill_alpha=1 (the labels' weight 0) teaches it the dense model's
        Dataset few = train.head(3_000);
        long[] labels = few.labels().orElseThrow().toLongArray();
        for (int i = 0; i < labels.length; i++) {
            labels[i] = (labels[i] + 1) % 10;
        }
        Dataset wrong = Dataset.of(few.inputs(), io.condense.sdk.data.NdArray.ofLongs(few.labels().orElseThrow().shape(), labels));
        Map<String, String> common = Map.of("epochs", "2", "lr", "0.02", "validation", "0");
        OnnxModel labelsOnly;
        try (TestStepContext context = TestStepContext.builder().technique(technique, common).trainingData(wrong).trainer(trainer)
                .jobModel(dense).build()) {
            labelsOnly = technique.apply(pruned, context.parameters(), context).model();
        }
        Map<String, String> distilled = new java.util.HashMap<>(common);
        distilled.put("distill_alpha", "1");
        TechniqueResult result;
        try (TestStepContext context = TestStepContext.builder().technique(technique, distilled).trainingData(wrong).trainer(trainer)
                .jobModel(dense).build()) {
            result = technique.apply(pruned, context.parameters(), context);
        }
        double wrongLabels = onnxRuntimeAccuracy(labelsOnly);
        double fromTeacher = onnxRuntimeAccuracy(result.model());
        System.out.printf(java.util.Locale.ROOT, "labels shifted by one: labels only %.4f, distill_alpha=1 %.4f (dense %.4f, pruned %.4f)%n",
                wrongLabels, fromTeacher, denseAccuracy, prunedAccuracy);
        assertThat(wrongLabels).as("trained on wrong labels").isLessThan(0.3);
        assertThat(fromTeacher).as("distilled from the dense model").isGreaterThan(Math.max(prunedAccuracy, denseAccuracy - 0.05));
        assertThat(result.report().get("distill_alpha")).isEqualTo(1.0);
    }

    @Test
    void distillationRefusesWhenTheHostOffersNoJobModel() {
        try (TestStepContext context = TestStepContext.builder().technique(technique, Map.of("distill_alpha", "0.5"))
                .trainingData(train.head(100)).trainer(trainer).build()) {
            assertThatThrownBy(() -> technique.apply(pruned, context.parameters(), context))
                    .isInstanceOfSatisfying(CondenseException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.UNAVAILABLE))
                    .hasMessageContaining("distill_alpha").hasMessageContaining("job's model");
        }
    }
}
