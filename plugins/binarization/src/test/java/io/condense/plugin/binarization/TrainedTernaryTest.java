package io.condense.plugin.binarization;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import ai.onnx.proto.OnnxMl.NodeProto;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.eval.EvaluationRequest;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.technique.TechniqueResult;
import io.condense.sdk.tensor.DataType;
import io.condense.sdk.tensor.Tensor;
import io.condense.sdk.testkit.Evaluators;
import io.condense.sdk.testkit.SharedData;
import io.condense.sdk.training.TrainingOperators;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

/** {@code ternarize(method=ttq)}: per layer a positive and a negative scale, written as two summed bases, read back. */
class TrainedTernaryTest {

    @ParameterizedTest(name = "{0} ttq_threshold {1}")
    @CsvSource({"mnist8/model.onnx, 0.05", "pytorch_cnn_mnist.onnx, 0.05", "pytorch_cnn_mnist.onnx, 0.2"})
    void everyLayerHoldsPlusWpZeroAndMinusWnWithThresholdsFromItsWeights(String name, double factor) {
        OnnxModel original = OnnxModel.load(SharedData.model(name));
        TechniqueResult result = Models.apply(new TernarizeTechnique(), original,
                Map.of("method", "ttq", "ttq_threshold", Double.toString(factor), "keep_first_last", "false"));
        OnnxModel written = OnnxModel.fromBytes(result.model().toBytes());
        OnnxModel folded = original.edit().foldConstantReshapes().build();
        assertThat(result.report().get("method")).isEqualTo("ttq");
        for (Map<String, Object> layer : result.report().layers()) {
            String weight = (String) layer.get("weight");
            float[] w = folded.tensor(weight).toFloatArray();
            Tensor positive = written.tensor(weight + "_ternary_0");
            Tensor negative = written.tensor(weight + "_ternary_1");
            Tensor positiveScale = written.tensor(weight + "_scale_0");
            Tensor negativeScale = written.tensor(weight + "_scale_1");
            assertThat(positive.dataType()).isEqualTo(DataType.INT8);
            assertThat(negative.dataType()).isEqualTo(DataType.INT8);
            assertThat(positiveScale.elementCount()).as("one positive scale for layer %s", weight).isEqualTo(1);
            assertThat(negativeScale.elementCount()).as("one negative scale for layer %s", weight).isEqualTo(1);
            NodeProto sum = written.consumers(written.producer(weight + "_dequantized_0").orElseThrow().getOutput(0)).get(0);
            assertThat(sum.getOpType()).isEqualTo("Sum");
            float maximum = 0;
            for (float value : w) {
                maximum = Math.max(maximum, Math.abs(value));
            }
            double threshold = factor * maximum;
            int[] p = positive.toIntArray();
            int[] n = negative.toIntArray();
            double positiveSum = 0;
            double negativeSum = 0;
            long positiveCount = 0;
            long negativeCount = 0;
            long zeros = 0;
            Set<Float> values = new HashSet<>();
            float wp = positiveScale.toFloatArray()[0];
            float wn = negativeScale.toFloatArray()[0];
            for (int j = 0; j < w.length; j++) {
                assertThat(p[j]).as("positive level %d of %s (w=%s)", j, weight, w[j]).isEqualTo(w[j] > threshold ? 1 : 0);
                assertThat(n[j]).as("negative level %d of %s (w=%s)", j, weight, w[j]).isEqualTo(w[j] < -threshold ? -1 : 0);
                if (p[j] == 1) {
                    positiveSum += w[j];
                    positiveCount++;
                } else if (n[j] == -1) {
                    negativeSum -= w[j];
                    negativeCount++;
                } else {
                    zeros++;
                }
                values.add(p[j] * wp + n[j] * wn);
            }
            assertThat(wp).as("Wp of %s is the mean of its positive weights", weight).isEqualTo((float) (positiveSum / positiveCount));
            assertThat(wn).as("Wn of %s is the mean magnitude of its negative weights", weight).isEqualTo((float) (negativeSum / negativeCount));
            assertThat(values).isSubsetOf(wp, 0f, -wn);
            assertThat((double) layer.get("zero_share")).isEqualTo((double) zeros / w.length);
            assertThat(((Number) layer.get("packed_bits")).longValue()).isEqualTo(2L * w.length + 64);
            Tensor latent = written.tensor(weight + "_ternary_0" + TrainingOperators.TTQ_LATENT_SUFFIX);
            assertThat(latent.toFloatArray()).as("the float weight of %s kept for finetune", weight).containsExactly(w);
            assertThat(latent.shape()).isEqualTo(positive.shape());
            assertThat(written.consumers(latent.name())).as("no node reads the kept weight of %s", weight).isEmpty();
        }
        assertThat(((Number) result.report().get("latent_bytes")).longValue()).isEqualTo(4L * ((Number) result.report().get("weights_changed")).longValue());
        assertThat(Evaluators.fromServiceLoader().compare(original, written, EvaluationRequest.of(Models.digitsFor(name), 100)).samples())
                .as("ONNX Runtime runs the TTQ %s", name).isEqualTo(100);
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource({"mnist8/model.onnx", "pytorch_cnn_mnist.onnx"})
    void accuracyWithoutFineTuningIsReportedAsMeasured(String name) {
        Accuracy.check(new TernarizeTechnique(), name, "method=ttq;keep_first_last=false");
    }

    @Test
    void perChannelScalesAreTheMeansOfEachChannelsSidesUnderTheLayersThreshold() {
        OnnxModel original = OnnxModel.load(SharedData.model("pytorch_cnn_mnist.onnx"));
        TechniqueResult result = Models.apply(new TernarizeTechnique(), original,
                Map.of("method", "ttq", "keep_first_last", "false", "ttq_scales", "channel"));
        OnnxModel written = OnnxModel.fromBytes(result.model().toBytes());
        assertThat(result.report().get("ttq_scales")).isEqualTo("channel");
        for (Map<String, Object> layer : result.report().layers()) {
            String weight = (String) layer.get("weight");
            Tensor tensor = original.tensor(weight);
            float[] w = tensor.toFloatArray();
            int channels = (int) tensor.shape()[0];
            int inner = w.length / channels;
            float maximum = 0;
            for (float value : w) {
                maximum = Math.max(maximum, Math.abs(value));
            }
            double threshold = 0.05 * maximum;
            float[] wp = written.tensor(weight + "_scale_0").toFloatArray();
            float[] wn = written.tensor(weight + "_scale_1").toFloatArray();
            int[] p = written.tensor(weight + "_ternary_0").toIntArray();
            int[] n = written.tensor(weight + "_ternary_1").toIntArray();
            assertThat(wp).as("one positive scale per output channel of %s", weight).hasSize(channels);
            assertThat(wn).hasSize(channels);
            assertThat(((Number) layer.get("packed_bits")).longValue()).isEqualTo(2L * w.length + 64L * channels);
            for (int c = 0; c < channels; c++) {
                double positiveSum = 0;
                double negativeSum = 0;
                int positiveCount = 0;
                int negativeCount = 0;
                for (int j = c * inner; j < (c + 1) * inner; j++) {
                    assertThat(p[j]).isEqualTo(w[j] > threshold ? 1 : 0);
                    assertThat(n[j]).isEqualTo(w[j] < -threshold ? -1 : 0);
                    positiveSum += w[j] > threshold ? w[j] : 0;
                    positiveCount += w[j] > threshold ? 1 : 0;
                    negativeSum -= w[j] < -threshold ? w[j] : 0;
                    negativeCount += w[j] < -threshold ? 1 : 0;
                }
                assertThat(wp[c]).as("Wp of channel %d of %s", c, weight).isEqualTo(positiveCount == 0 ? 0f : (float) (positiveSum / positiveCount));
                assertThat(wn[c]).as("Wn of channel %d of %s", c, weight).isEqualTo(negativeCount == 0 ? 0f : (float) (negativeSum / negativeCount));
            }
        }
        assertThat(Evaluators.fromServiceLoader().compare(original, written, EvaluationRequest.of(Models.digitsFor("pytorch_cnn_mnist.onnx"),
                100)).samples()).isEqualTo(100);
        CondenseException error = catchThrowableOfType(CondenseException.class,
                () -> Models.apply(new TernarizeTechnique(), original, Map.of("ttq_scales", "channel")));
        assertThat(error.getMessage()).contains("ttq_scales").contains("method=ttq");
    }

    @Test
    void withoutLatentsTheFileHoldsOnlyLevelsAndScales() {
        OnnxModel original = OnnxModel.load(SharedData.model("pytorch_cnn_mnist.onnx"));
        TechniqueResult kept = Models.apply(new TernarizeTechnique(), original, Map.of("method", "ttq", "keep_first_last", "false"));
        TechniqueResult levelsOnly = Models.apply(new TernarizeTechnique(), original,
                Map.of("method", "ttq", "keep_first_last", "false", "ttq_latents", "false"));
        OnnxModel written = OnnxModel.fromBytes(levelsOnly.model().toBytes());
        assertThat(written.initializers()).noneMatch(info -> info.name().endsWith(TrainingOperators.TTQ_LATENT_SUFFIX));
        assertThat(levelsOnly.report().get("latent_bytes")).isNull();
        long latentBytes = ((Number) kept.report().get("latent_bytes")).longValue();
        assertThat(kept.model().serializedSize() - written.serializedSize()).as("the kept weights are what the larger file holds more")
                .isBetween(latentBytes, latentBytes + 400);
        for (String layer : new String[] {"conv1.weight", "conv2.weight", "fc1.weight", "fc2.weight"}) {
            assertThat(written.tensor(layer + "_ternary_0").toIntArray()).isEqualTo(kept.model().tensor(layer + "_ternary_0").toIntArray());
        }
        CondenseException error = catchThrowableOfType(CondenseException.class,
                () -> Models.apply(new TernarizeTechnique(), original, Map.of("ttq_latents", "false")));
        assertThat(error.code()).isEqualTo(ErrorCode.INVALID_PARAMETER);
        assertThat(error.getMessage()).contains("ttq_latents").contains("method=ttq");
    }

    @Test
    void eachMethodsThresholdIsRefusedWithTheOther() {
        OnnxModel model = OnnxModel.load(SharedData.model("pytorch_cnn_mnist.onnx"));
        CondenseException error = catchThrowableOfType(CondenseException.class,
                () -> Models.apply(new TernarizeTechnique(), model, Map.of("method", "ttq", "threshold", "0.5")));
        assertThat(error.code()).isEqualTo(ErrorCode.INVALID_PARAMETER);
        assertThat(error.getMessage()).contains("threshold").contains("ttq_threshold");
        error = catchThrowableOfType(CondenseException.class,
                () -> Models.apply(new TernarizeTechnique(), model, Map.of("ttq_threshold", "0.1")));
        assertThat(error.code()).isEqualTo(ErrorCode.INVALID_PARAMETER);
        assertThat(error.getMessage()).contains("ttq_threshold").contains("method=ttq");
    }
}
