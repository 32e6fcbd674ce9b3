package io.condense.plugin.training;

import static org.assertj.core.api.Assertions.assertThat;

import io.condense.plugin.quantization.QuantizeTechnique;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.quantization.IncrementalPowerOfTwo;
import io.condense.sdk.technique.TechniqueResult;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * INQ end to end: LeNet-300-100 trained in the test on 4,000 Fashion-MNIST images, {@code quantize(scheme=pow2, bits=5,
 * incremental=0.5,0.75,0.875,1)}, then {@code finetune(epochs=3)} running the rest of the schedule; the written model read
 * back: every weight of the three layers zero or a signed power of two of its layer's window, measured in ONNX Runtime.
 */
class IncrementalFinetuneTest {
    private static SmallFashionLeNet lenet;

    @BeforeAll
    static void trainFloat() {
        lenet = new SmallFashionLeNet();
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
        OnnxModel quantized = OnnxModel.fromBytes(lenet.apply(new QuantizeTechnique(), lenet.dense,
                Map.of("scheme", "pow2", "bits", "5", "incremental", "0.5,0.75,0.875,1"), false).model().toBytes());
        IncrementalPowerOfTwo schedule = IncrementalPowerOfTwo.of(quantized).orElseThrow();
        assertThat(schedule.bits()).isEqualTo(5);
        assertThat(schedule.shares()).containsExactly(0.5, 0.75, 0.875, 1.0);
        assertThat(schedule.done()).isEqualTo(1);
        assertThat(schedule.bottoms()).containsOnlyKeys("fc1.weight", "fc2.weight", "fc3.weight");
        for (String weight : schedule.bottoms().keySet()) {
            assertThat(shareOnGrid(quantized, schedule, weight)).as("%s after the first stage", weight).isBetween(0.5, 0.52);
        }
        double denseAccuracy = lenet.accuracy(lenet.dense);
        double firstStage = lenet.accuracy(quantized);

        TechniqueResult result = lenet.apply(new FinetuneTechnique(), quantized, Map.of("epochs", "3"), true);
        OnnxModel written = OnnxModel.fromBytes(result.model().toBytes());
        double after = lenet.accuracy(written);
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
