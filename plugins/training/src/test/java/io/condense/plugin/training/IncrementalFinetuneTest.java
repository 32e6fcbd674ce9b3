package io.condense.plugin.training;

import static org.assertj.core.api.Assertions.assertThat;

import io.condense.plugin.quantization.QuantizeTechnique;
import io.condense.sdk.data.Dataset;
import io.condense.sdk.eval.EvaluationRequest;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.quantization.IncrementalPowerOfTwo;
import io.condense.sdk.technique.Technique;
import io.condense.sdk.technique.TechniqueResult;
import io.condense.sdk.testkit.Evaluators;
import io.condense.sdk.testkit.FashionMnist;
import io.condense.sdk.testkit.TestStepContext;
import io.condense.sdk.training.LearningRateSchedule;
import io.condense.sdk.training.Optimizer;
import io.condense.sdk.training.Trainer;
import io.condense.sdk.training.TrainingRequest;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.ServiceLoader;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * INQ end to end: LeNet-300-100 trained in the test on 4,000 Fashion-MNIST images, {@code quantize(scheme=pow2, bits=5,
 * incremental=0.5,0.75,0.875,1)}, then {@code finetune(epochs=3)} running the rest of the schedule; the written model read
 * back: every weight of the three layers zero or a signed power of two of its layer's window, measured in ONNX Runtime.
 */
class IncrementalFinetuneTest {
    private static final int TEST_SAMPLES = 10_000;

    private static Trainer trainer;
    private static Dataset train;
    private static Dataset test;
    private static OnnxModel dense;

    @BeforeAll
    static void trainFloat() {
        train = FashionMnist.split("train", 4_000);
        test = FashionMnist.split("t10k", TEST_SAMPLES);
        trainer = ServiceLoader.load(Trainer.class).findFirst().orElseThrow();
        dense = trainer.train(TrainingRequest.builder(Models.leNet300100(1), train)
                .optimizer(Optimizer.sgd(0.9, 0)).schedule(new LearningRateSchedule.Cosine(0.05, 0.001))
                .epochs(2).batchSize(64).seed(1).build()).model();
    }

    private static double accuracy(OnnxModel model) {
        OnnxModel written = OnnxModel.fromBytes(model.toBytes());
        return Evaluators.fromServiceLoader().compare(written, written, EvaluationRequest.of(test, TEST_SAMPLES)).accuracyAfter()
                .orElseThrow();
    }

    private static TechniqueResult apply(Technique technique, OnnxModel model, Map<String, String> parameters, Dataset data) {
        TestStepContext.Builder context = TestStepContext.builder().technique(technique, parameters);
        if (data != null) {
            context.trainingData(data).trainer(trainer);
        }
        try (TestStepContext built = context.build()) {
            return technique.apply(model, built.parameters(), built);
        }
    }

    private static double shareOnGrid(OnnxModel model, IncrementalPowerOfTwo schedule, String weight) {
        float[] values = model.tensor(weight).toFloatArray();
        long onGrid = 0;
        for (float value : values) {
            onGrid += IncrementalPowerOfTwo.onGrid(value, schedule.bottoms().get(weight), schedule.bits()) ? 1 : 0;
        }
        return (double) onGrid / values.length;
    }

    @Test
    void finetuneRunsTheScheduleAndWritesEveryWeightAPowerOfTwoOrZero() {
        OnnxModel quantized = OnnxModel.fromBytes(apply(new QuantizeTechnique(), dense,
                Map.of("scheme", "pow2", "bits", "5", "incremental", "0.5,0.75,0.875,1"), null).model().toBytes());
        IncrementalPowerOfTwo schedule = IncrementalPowerOfTwo.of(quantized).orElseThrow();
        assertThat(schedule.bits()).isEqualTo(5);
        assertThat(schedule.shares()).containsExactly(0.5, 0.75, 0.875, 1.0);
        assertThat(schedule.done()).isEqualTo(1);
        assertThat(schedule.bottoms()).containsOnlyKeys("fc1.weight", "fc2.weight", "fc3.weight");
        for (String weight : schedule.bottoms().keySet()) {
            assertThat(shareOnGrid(quantized, schedule, weight)).as("%s after the first stage", weight).isBetween(0.5, 0.52);
        }
        double denseAccuracy = accuracy(dense);
        double firstStage = accuracy(quantized);

        TechniqueResult result = apply(new FinetuneTechnique(), quantized, Map.of("epochs", "3"), train);
        OnnxModel written = OnnxModel.fromBytes(result.model().toBytes());
        double after = accuracy(written);
        System.out.printf(Locale.ROOT, "INQ: float %.4f, first stage (50%% pow2) %.4f, finetune (100%% pow2) %.4f; report %s%n",
                denseAccuracy, firstStage, after, result.report().layers());
        assertThat(IncrementalPowerOfTwo.of(written)).as("the schedule is done: no metadata left").isEmpty();
        for (String weight : schedule.bottoms().keySet()) {
            assertThat(shareOnGrid(written, schedule, weight)).as("%s read back", weight).isEqualTo(1.0);
        }
        assertThat(result.report().get("every_weight_power_of_two")).isEqualTo(true);
        assertThat((List<?>) result.report().get("stages")).hasSize(3);
        assertThat(after).as("INQ 5-bit ends near float").isGreaterThan(denseAccuracy - 0.02);
    }
}
