package io.condense.plugin.training.sparsity;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.condense.plugin.training.FinetuneTechnique;
import io.condense.sdk.data.Dataset;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.eval.EvaluationRequest;
import io.condense.sdk.model.InitializerInfo;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.technique.InvalidParametersException;
import io.condense.sdk.technique.Parameters;
import io.condense.sdk.technique.Report;
import io.condense.sdk.technique.TechniqueResult;
import io.condense.sdk.testkit.Evaluators;
import io.condense.sdk.testkit.FashionMnist;
import io.condense.sdk.testkit.LeNets;
import io.condense.sdk.testkit.TestStepContext;
import io.condense.sdk.training.LearningRateSchedule;
import io.condense.sdk.training.Optimizer;
import io.condense.sdk.training.Trainer;
import io.condense.sdk.training.TrainingRequest;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@code finetune}'s sparsity parameters on small runs of the host's trainer (LeNet-300-100 trained for two epochs on 3,000
 * Fashion-MNIST images; the test kit's small VGG-style CNN with BatchNormalization): gradual pruning reaches its target
 * exactly and writes the model sparse, an N:M pattern holds in every group, the regularisers shrink what they act on, and
 * the rules across the parameters are refused before training. The full-data figures are the README's benchmark.
 */
class SparseFinetuneTest {
    private static final String[] LAYERS = {"fc1.weight", "fc2.weight", "fc3.weight"};

    private static Trainer trainer;
    private static Dataset train;
    private static Dataset test;
    private static OnnxModel dense;
    private static double denseAccuracy;

    private final FinetuneTechnique technique = new FinetuneTechnique();

    @BeforeAll
    static void train() {
        train = FashionMnist.split("train", 3_000);
        test = FashionMnist.split("t10k", 1_000);
        trainer = ServiceLoader.load(Trainer.class).findFirst().orElseThrow();
        dense = trainer.train(TrainingRequest.builder(LeNets.leNet300100(1), train).optimizer(Optimizer.sgd(0.9, 0))
                .schedule(new LearningRateSchedule.Cosine(0.05, 0.001)).epochs(2).batchSize(64).seed(1).build()).model();
        denseAccuracy = accuracy(dense);
    }

    private static double accuracy(OnnxModel model) {
        OnnxModel written = OnnxModel.fromBytes(model.toBytes());
        return Evaluators.fromServiceLoader().compare(written, written, EvaluationRequest.of(test, test.size())).accuracyAfter()
                .orElseThrow();
    }

    private TechniqueResult run(OnnxModel model, Map<String, String> parameters, Dataset data, List<String> progress) {
        try (TestStepContext context = TestStepContext.builder().technique(technique, parameters).trainingData(data).trainer(trainer)
                .build()) {
            TechniqueResult result = technique.apply(model, context.parameters(), context);
            context.progressEvents().forEach(event -> progress.add(event.message()));
            return result;
        }
    }

    private static long zeros(OnnxModel model, String name) {
        long zeros = 0;
        for (float value : model.tensor(name).toFloatArray()) {
            zeros += value == 0f ? 1 : 0;
        }
        return zeros;
    }

    @Test
    void gradualPruningReachesTheTargetExactlyWritesTheModelSparseAndShowsTheSparsityInProgress() {
        List<String> progress = new ArrayList<>();
        TechniqueResult result = run(dense, Map.of("epochs", "2", "sparsity", "0.9"), train, progress);
        OnnxModel pruned = OnnxModel.fromBytes(result.model().toBytes());
        long zeros = 0;
        long total = 0;
        for (String layer : LAYERS) {
            zeros += zeros(pruned, layer);
            total += pruned.tensor(layer).elementCount();
        }
        assertThat(zeros).as("zeros over the three Gemm weights (global scope)").isEqualTo(Math.round(0.9 * total));
        assertThat(pruned.initializers().stream().filter(InitializerInfo::sparse).map(InitializerInfo::name))
                .as("fc1 (global scope: the most pruned) written sparse, smaller than dense above 2/3 sparsity").contains("fc1.weight");
        Report report = result.report();
        assertThat((double) report.get("sparsity_after")).isEqualTo((double) Math.round(0.9 * total) / total);
        assertThat((long) report.get("mask_updates")).as("ten updates an epoch over the first epoch, and the last").isGreaterThan(5);
        assertThat((double) report.get("lr")).as("gradual pruning's default rate: 3 x SGD's 0.01").isEqualTo(0.03, org.assertj.core.data.Offset.offset(1e-12));
        List<?> history = (List<?>) report.get("history");
        assertThat(((Map<?, ?>) history.get(1)).get("sparsity")).isEqualTo(report.get("sparsity_after"));
        assertThat(progress).anyMatch(message -> message.contains("loss") && message.contains("sparsity 0.9000"));
        double accuracy = accuracy(pruned);
        System.out.printf(java.util.Locale.ROOT, "dense %.4f, finetune(epochs=2, sparsity=0.9) %.4f on 1,000 test images%n",
                denseAccuracy, accuracy);
        assertThat(accuracy).as("gradual pruning to 90%% keeps the model working (dense %.4f)", denseAccuracy)
                .isGreaterThan(denseAccuracy - 0.05);
    }

    @Test
    void aTwoOfFourPatternIsReachedGraduallyAndHoldsInEveryGroupOfTheWrittenModel() {
        TechniqueResult result = run(dense, Map.of("epochs", "1", "pattern", "2:4"), train.head(1_000), new ArrayList<>());
        OnnxModel pruned = OnnxModel.fromBytes(result.model().toBytes());
        for (String layer : LAYERS) {
            // Gemm transB=1: [out, in], groups of 4 consecutive inputs of each output
            long[] shape = pruned.tensor(layer).shape();
            float[] values = pruned.tensor(layer).toFloatArray();
            int in = (int) shape[1];
            for (int row = 0; row < shape[0]; row++) {
                for (int start = 0; start < in; start += 4) {
                    int kept = 0;
                    for (int k = start; k < Math.min(in, start + 4); k++) {
                        kept += values[row * in + k] != 0f ? 1 : 0;
                    }
                    assertThat(kept).as("%s row %d inputs from %d", layer, row, start).isLessThanOrEqualTo(2);
                }
            }
        }
        assertThat(result.report().get("pattern")).isEqualTo("2:4");
        assertThat(accuracy(pruned)).isGreaterThan(denseAccuracy - 0.05);
    }

    @Test
    void groupLassoAndL1ShrinkWhatTheyActOnAndTheReportShowsBeforeAndAfter() {
        Dataset small = train.head(1_000);
        // 57 steps of rate 0.05 (cosine): a filter's norm falls by up to 57 x 0.025 x strength
        Map<String, Object> plain = regularised(run(dense, Map.of("epochs", "1", "lr", "0.05", "batch", "16", "group_lasso", "0.00001"),
                small, new ArrayList<>()));
        Map<String, Object> strong = regularised(run(dense, Map.of("epochs", "1", "lr", "0.05", "batch", "16", "group_lasso", "0.2"),
                small, new ArrayList<>()));
        assertThat((double) after(strong).get("median")).as("fc1's median filter norm with a strong group lasso")
                .isLessThan(0.9 * (double) after(plain).get("median"));
        assertThat(strong.get("kind")).isEqualTo("filters");
        assertThat(after(strong).get("units")).isEqualTo(300);
        Map<String, Object> l1 = regularised(run(dense, Map.of("epochs", "1", "lr", "0.05", "batch", "16", "l1", "0.01"), small, new ArrayList<>()));
        assertThat((double) after(l1).get("median")).as("fc1's median |w| with l1")
                .isLessThan((double) ((Map<?, ?>) l1.get("before")).get("median"));
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> regularised(TechniqueResult result) {
        return (Map<String, Object>) ((List<?>) result.report().get("regularised")).get(0);
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> after(Map<String, Object> row) {
        return (Map<String, Object>) row.get("after");
    }

    @Test
    void slimmingDrivesBatchNormalizationScalesDownAndNeedsBatchNormalization() {
        OnnxModel vgg = LeNets.smallVgg(1);
        Dataset small = train.head(640);
        Map<String, String> base = Map.of("epochs", "1", "lr", "0.05", "batch", "32", "validation", "0");
        Map<String, String> slim = new HashMap<>(base);
        slim.put("slimming", "0.3"); // 20 steps of rate 0.05 (cosine): |gamma| falls by up to 20 x 0.025 x 0.3
        TechniqueResult without = run(vgg, base, small, new ArrayList<>());
        TechniqueResult with = run(vgg, slim, small, new ArrayList<>());
        List<?> rows = (List<?>) with.report().get("regularised");
        assertThat(rows).hasSize(4);
        for (Object row : rows) {
            Map<?, ?> entry = (Map<?, ?>) row;
            String scale = (String) entry.get("name");
            assertThat(entry.get("kind")).isEqualTo("bn_scale");
            double plainMean = meanAbs(without.model().tensor(scale).toFloatArray());
            double slimMean = meanAbs(with.model().tensor(scale).toFloatArray());
            assertThat(slimMean).as("mean |gamma| of %s with slimming against without", scale).isLessThan(plainMean - 0.1);
        }
        assertThatThrownBy(() -> run(dense, Map.of("epochs", "1", "slimming", "0.001"), small, new ArrayList<>()))
                .isInstanceOfSatisfying(CondenseException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.INVALID_PARAMETER))
                .hasMessageContaining("BatchNormalization").hasMessageContaining("group_lasso");
    }

    private static double meanAbs(float[] values) {
        double sum = 0;
        for (float value : values) {
            sum += Math.abs(value);
        }
        return sum / values.length;
    }

    @Test
    void rulesAcrossTheSparsityParametersAreRefusedNamingTheParameter() {
        List<Map<String, String>> bad = List.of(Map.of("sparsity_schedule", "linear"), Map.of("scope", "layer"),
                Map.of("pattern", "2:4", "sparsity", "0.5"), Map.of("pattern", "2:4", "scope", "global"),
                Map.of("epochs", "4", "sparsity", "0.9", "sparsity_end", "5"),
                Map.of("epochs", "4", "sparsity", "0.9", "sparsity_start", "3", "sparsity_end", "2"),
                Map.of("min_elements", "0"), Map.of("pattern", "4:2"));
        List<String> named = List.of("sparsity_schedule", "scope", "sparsity", "scope", "sparsity_end", "sparsity_start",
                "min_elements", "pattern");
        for (int i = 0; i < bad.size(); i++) {
            Map<String, String> parameters = bad.get(i);
            String name = named.get(i);
            assertThatThrownBy(() -> Parameters.resolve(technique, parameters))
                    .as("%s", parameters).isInstanceOf(InvalidParametersException.class).hasMessageContaining(name);
        }
    }

    @Test
    void aTargetBelowTheModelsOwnSparsityIsRefused() {
        TechniqueResult pruned = run(dense, Map.of("epochs", "1", "sparsity", "0.8", "sparsity_end", "0"), train.head(500),
                new ArrayList<>());
        assertThatThrownBy(() -> run(pruned.model(), Map.of("epochs", "1", "sparsity", "0.5"), train.head(500),
                new ArrayList<>()))
                .isInstanceOfSatisfying(CondenseException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.INVALID_PARAMETER))
                .hasMessageContaining("already 0.8");
    }
}
