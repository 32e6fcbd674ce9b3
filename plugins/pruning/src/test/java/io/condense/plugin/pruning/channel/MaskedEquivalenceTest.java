package io.condense.plugin.pruning.channel;

import static org.assertj.core.api.Assertions.assertThat;

import io.condense.sdk.data.NdArray;
import io.condense.sdk.eval.InferenceSession;
import io.condense.plugin.pruning.PruneTechnique;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.model.channel.ChannelPruner;
import io.condense.sdk.technique.Parameters;
import io.condense.sdk.technique.TechniqueResult;
import io.condense.sdk.testkit.Evaluators;
import io.condense.sdk.testkit.SharedData;
import io.condense.sdk.testkit.TestStepContext;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Removing a channel is the same as the next layers ignoring it: the pruned model must compute what the original computes
 * with the removed channels' input weights of every following Conv, Gemm and MatMul set to zero. Checked on real models,
 * where any slice at the wrong index, a missed BatchNormalization or a misplaced concat range would show.
 */
class MaskedEquivalenceTest {

    @ParameterizedTest(name = "{0} {1} {2}")
    @CsvSource({"ultraface/version-RFB-320.onnx, l1, 0.25", "ultraface/version-RFB-320.onnx, bn_scale, 0.25",
            "ultraface/version-RFB-320.onnx, fpgm, 0.5", "ultraface/version-slim-320.onnx, l2, 0.25",
            "pytorch_cnn_mnist.onnx, l1, 0.5", "mnist8/model.onnx, l2, 0.5"})
    void prunedModelComputesWhatTheMaskedOriginalComputes(String name, String criterion, String sparsity) {
        OnnxModel original = OnnxModel.load(SharedData.model(name));
        Map<String, String> values = ChannelPruningTest.channel(sparsity, "criterion", criterion);
        TechniqueResult result = ChannelPruningTest.prune(original, values);
        OnnxModel masked = masked(original, values);

        try (InferenceSession maskedSession = Evaluators.fromServiceLoader().open(masked);
                InferenceSession originalSession = Evaluators.fromServiceLoader().open(original);
                InferenceSession prunedSession = Evaluators.fromServiceLoader().open(OnnxModel.fromBytes(result.model().toBytes()))) {
            String input = prunedSession.inputs().get(0).name();
            NdArray data = name.startsWith("ultraface") ? UltraFaceDetections.photo(1)
                    : SharedData.mnistDigits(1, name.startsWith("mnist8") ? 1f / 255 : 1f).inputs();
            Map<String, NdArray> expected = maskedSession.run(Map.of(input, data));
            Map<String, NdArray> actual = prunedSession.run(Map.of(input, data));
            Map<String, NdArray> unpruned = originalSession.run(Map.of(input, data));
            for (String output : expected.keySet()) {
                float[] want = expected.get(output).toFloatArray();
                float[] got = actual.get(output).toFloatArray();
                float[] before = unpruned.get(output).toFloatArray();
                assertThat(actual.get(output).shape()).isEqualTo(unpruned.get(output).shape());
                double largest = 0;
                double scale = 0;
                double changed = 0;
                for (int i = 0; i < want.length; i++) {
                    largest = Math.max(largest, Math.abs(want[i] - got[i]));
                    scale = Math.max(scale, Math.abs(want[i]));
                    changed = Math.max(changed, Math.abs(before[i] - got[i]));
                }
                System.out.printf("masked equivalence %s %s %s output %s: largest difference to the masked original %.3g "
                        + "(largest value %.3g), to the unpruned original %.3g%n", name, criterion, sparsity, output, largest, scale, changed);
                assertThat(largest).as("output %s against the masked original", output).isLessThanOrEqualTo(1e-4 * Math.max(1, scale));
                // and pruning did change something, so the comparison means something
                assertThat(changed).as("output %s against the unpruned original", output).isGreaterThan(1e-3 * Math.max(1e-3, scale));
            }
        }
    }

    /**
     * The original with the input weights of the removed channels set to zero in every layer that reads them (and their
     * constant shifts folded into those layers' biases, as prune does), for the same step parameters.
     */
    static OnnxModel masked(OnnxModel original, Map<String, String> values) {
        Parameters parameters = Parameters.validate(new PruneTechnique().descriptor().parameters(), values);
        try (TestStepContext context = TestStepContext.builder().build()) {
            return ChannelPruner.masked(original, ChannelPruning.request(parameters), context);
        }
    }
}
