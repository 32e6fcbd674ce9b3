package io.condense.plugin.training;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import ai.onnx.proto.OnnxMl.NodeProto;
import io.condense.plugin.quantization.QuantizeTechnique;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.technique.TechniqueResult;
import io.condense.sdk.testkit.TestStepContext;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * LSQ ({@code finetune(learn_scales=true)}): LeNet-300-100 trained in the test on 4,000 Fashion-MNIST images, W2A8
 * ({@code quantize(bits=2, granularity=block, block=32, activations=true)}, calibrated on 200 of them), then fine-tuned with
 * and without learned scales; the written models read back and measured in ONNX Runtime on the 10,000 test images.
 */
class LearnedScalesFinetuneTest {
    private static SmallFashionLeNet lenet;
    private static OnnxModel quantized;

    @BeforeAll
    static void trainAndQuantize() {
        lenet = new SmallFashionLeNet();
        QuantizeTechnique quantize = new QuantizeTechnique();
        try (TestStepContext context = TestStepContext.builder().technique(quantize, Map.of("bits", "2", "granularity", "block", "block",
                "32", "activations", "true")).calibrationData(lenet.train.head(200)).build()) {
            quantized = quantize.apply(lenet.dense, context.parameters(), context).model();
        }
    }

    @Test
    void weightAndActivationScalesTrainAndTheWrittenModelKeepsItsForm() {
        TechniqueResult result = lenet.apply(new FinetuneTechnique(), quantized, Map.of("epochs", "2", "learn_scales", "true"), true);
        OnnxModel written = OnnxModel.fromBytes(result.model().toBytes());
        double before = lenet.accuracy(quantized);
        double after = lenet.accuracy(written);
        List<Map<String, Object>> layers = result.report().layers();
        List<Map<String, Object>> weights = layers.stream().filter(layer -> "qat".equals(layer.get("form"))).toList();
        List<Map<String, Object>> activations = layers.stream().filter(layer -> "activation_scale".equals(layer.get("form"))).toList();
        System.out.printf(Locale.ROOT, "LSQ W2A8: float %.4f, quantized %.4f, finetune(learn_scales=true) %.4f; weights %s; activations %s%n",
                lenet.accuracy(lenet.dense), before, after, weights, activations);
        assertThat(result.report().get("learn_scales")).isEqualTo(true);
        assertThat(written.nodes()).extracting(NodeProto::getOpType)
                .containsExactlyElementsOf(quantized.nodes().stream().map(NodeProto::getOpType).toList());
        assertThat(weights).hasSize(3).allSatisfy(layer -> {
            assertThat(layer.get("scale_trained")).isEqualTo(true);
            assertThat(((Number) layer.get("scales_changed")).longValue()).as("scales of %s", layer.get("name")).isPositive();
            assertThat(layer.get("levels_kept")).isEqualTo(true);
        });
        assertThat(activations).isNotEmpty().allSatisfy(layer -> {
            double scaleAfter = (double) layer.get("scale_after");
            assertThat(scaleAfter).as("activation scale %s", layer.get("name")).isPositive().isNotEqualTo(layer.get("scale_before"));
            assertThat(written.tensor((String) layer.get("name")).toFloatArray()[0]).isEqualTo((float) scaleAfter);
        });
        assertThat(result.report().get("activation_scales_trained")).isEqualTo(activations.size());
        for (Map<String, Object> layer : weights) {
            String levels = (String) layer.get("name");
            assertThat(written.tensor(levels).dataType()).isEqualTo(quantized.tensor(levels).dataType());
            for (int level : written.tensor(levels).toIntArray()) {
                assertThat(level).as("a level of %s", levels).isBetween(0, 3);
            }
        }
        assertThat(after).as("LSQ recovers the 2-bit model").isGreaterThan(before + 0.01);
    }

    @Test
    void learnedScalesNeedUniformQuantizedWeightsOrActivations() {
        CondenseException error = catchThrowableOfType(CondenseException.class,
                () -> lenet.apply(new FinetuneTechnique(), lenet.dense, Map.of("epochs", "1", "learn_scales", "true"), true));
        assertThat(error.code()).isEqualTo(ErrorCode.INVALID_PARAMETER);
        assertThat(error.getMessage()).contains("learn_scales").contains("quantize");
    }
}
