package io.condense.plugin.binarization;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;
import static org.assertj.core.api.Assertions.within;

import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.eval.EvaluationRequest;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.technique.TechniqueResult;
import io.condense.sdk.tensor.ChannelLayout;
import io.condense.sdk.testkit.Evaluators;
import io.condense.sdk.testkit.SharedData;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

class TernarizeTechniqueTest {

    private static TechniqueResult ternarize(OnnxModel model, Map<String, String> values) {
        return Models.apply(new TernarizeTechnique(), model, values);
    }

    @ParameterizedTest(name = "{0} threshold {1}")
    @CsvSource({"mnist8/model.onnx, 0.7", "pytorch_cnn_mnist.onnx, 0.7", "pytorch_cnn_mnist.onnx, 0.3"})
    void everyTernarizedChannelHoldsAtMostMinusZeroAndPlusAlpha(String name, double threshold) {
        OnnxModel original = OnnxModel.load(SharedData.model(name));
        TechniqueResult result = ternarize(original, Map.of("threshold", Double.toString(threshold), "keep_first_last", "false"));
        OnnxModel written = OnnxModel.fromBytes(result.model().toBytes());
        assertThat(result.report().layers()).hasSize(name.startsWith("mnist8") ? 3 : 4);
        for (Map<String, Object> layer : result.report().layers()) {
            String weight = (String) layer.get("weight");
            WrittenLevels read = WrittenLevels.read(original, written, layer, "ternary", -1);
            ChannelLayout layout = read.layout();
            double[] magnitudes = new double[layout.channels()];
            for (int j = 0; j < read.original().length; j++) {
                magnitudes[read.channel(j)] += Math.abs(read.original()[j]);
            }
            double[] kept = new double[layout.channels()];
            long[] keptCount = new long[layout.channels()];
            List<Set<Float>> values = new ArrayList<>();
            for (int c = 0; c < layout.channels(); c++) {
                values.add(new HashSet<>());
            }
            long zeros = 0;
            for (int j = 0; j < read.levels().length; j++) {
                int c = read.channel(j);
                float w = read.original()[j];
                double delta = threshold * magnitudes[c] / layout.elementsPerChannel();
                float expected = Math.abs(w) > delta ? Math.signum(w) : 0f;
                assertThat(read.levels()[j]).as("level %d of %s (w=%s, delta=%s)", j, weight, w, delta).isEqualTo(expected);
                if (expected != 0) {
                    kept[c] += Math.abs(w);
                    keptCount[c]++;
                } else {
                    zeros++;
                }
                values.get(c).add(read.levels()[j] * read.scales()[c]);
            }
            for (int c = 0; c < layout.channels(); c++) {
                float alpha = read.scales()[c];
                assertThat(keptCount[c]).as("kept weights of channel %d of %s", c, weight).isPositive();
                assertThat(alpha).as("alpha of channel %d of %s is the mean kept magnitude", c, weight)
                        .isEqualTo((float) (kept[c] / keptCount[c]));
                assertThat(values.get(c)).as("values of channel %d of %s", c, weight).isSubsetOf(-alpha, 0f, alpha).hasSizeLessThanOrEqualTo(3);
            }
            assertThat((double) layer.get("zero_share")).isCloseTo((double) zeros / read.levels().length, within(1e-12));
            long elements = ((Number) layer.get("elements")).longValue();
            assertThat(((Number) layer.get("packed_bits")).longValue()).isEqualTo(2 * elements + 32L * layout.channels());
        }
        assertThat(Evaluators.fromServiceLoader().compare(original, written, EvaluationRequest.of(Models.digitsFor(name), 100)).samples())
                .as("ONNX Runtime runs the ternarized %s", name).isEqualTo(100);
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource({"mnist8/model.onnx", "pytorch_cnn_mnist.onnx"})
    void ternaryReconstructsEveryLayerBetterThanBinary(String name) {
        OnnxModel original = OnnxModel.load(SharedData.model(name));
        List<Map<String, Object>> ternary = ternarize(original, Map.of("keep_first_last", "false")).report().layers();
        List<Map<String, Object>> binary = Models.apply(new BinarizeTechnique(), original, Map.of("keep_first_last", "false")).report().layers();
        for (int i = 0; i < ternary.size(); i++) {
            System.out.printf("%s layer %s: relative error twn %.4f, bwn %.4f%n", name, ternary.get(i).get("name"),
                    ternary.get(i).get("relative_error"), binary.get(i).get("relative_error"));
            assertThat((double) ternary.get(i).get("relative_error")).isLessThan((double) binary.get(i).get("relative_error"));
        }
    }

    @ParameterizedTest(name = "{0} {1}")
    @CsvSource({
            "mnist8/model.onnx, method=twn",
            "mnist8/model.onnx, method=twn;keep_first_last=false",
            "pytorch_cnn_mnist.onnx, method=twn",
            "pytorch_cnn_mnist.onnx, method=twn;keep_first_last=false"})
    void accuracyWithoutFineTuningIsReportedAsMeasured(String name, String settings) {
        Accuracy.check(new TernarizeTechnique(), name, settings);
    }

    @Test
    void aModelWithOnlyAFirstAndALastLayerIsNothingToCompress() {
        CondenseException error = catchThrowableOfType(CondenseException.class, () -> ternarize(Models.twoLayers(), Map.of()));
        assertThat(error.code()).isEqualTo(ErrorCode.NOTHING_TO_COMPRESS);
        assertThat(error.getMessage()).contains("nothing to ternarize").contains("first and last").contains("keep_first_last=false");
    }

    @Test
    void aModelWithoutWeightLayersIsNothingToCompress() {
        OnnxModel model = OnnxModel.load(SharedData.model("skl_lr_mnist.onnx"));
        CondenseException error = catchThrowableOfType(CondenseException.class, () -> ternarize(model, Map.of()));
        assertThat(error.code()).isEqualTo(ErrorCode.NOTHING_TO_COMPRESS);
        assertThat(error.getMessage()).contains("no Conv, Gemm or MatMul");
    }
}
