package io.condense.plugin.quantization;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import ai.onnx.proto.OnnxMl.NodeProto;
import io.condense.sdk.eval.EvaluationRequest;
import io.condense.sdk.eval.EvaluationResult;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.technique.InvalidParametersException;
import io.condense.sdk.technique.TechniqueResult;
import io.condense.sdk.tensor.DataType;
import io.condense.sdk.testkit.Evaluators;
import io.condense.sdk.testkit.SharedData;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class HalfPrecisionWeightsTest {
    private static final int DIGITS = 1000;

    @ParameterizedTest(name = "{0} {1}")
    @CsvSource({"mnist8/model.onnx, fp16", "pytorch_cnn_mnist.onnx, fp16", "mnist8/model.onnx, bf16", "pytorch_cnn_mnist.onnx, bf16"})
    void sixteenBitWeightsKeepAccuracyAndHalveTheWeights(String name, String dtype) throws Exception {
        Path file = SharedData.model(name);
        OnnxModel original = OnnxModel.load(file);
        TechniqueResult result = QuantizeTechniqueTest.quantize(original, Map.of("dtype", dtype));
        byte[] written = result.model().toBytes();
        OnnxModel converted = OnnxModel.fromBytes(written);
        EvaluationResult comparison = Evaluators.fromServiceLoader().compare(original, converted,
                EvaluationRequest.of(QuantizeTechniqueTest.digitsFor(name), DIGITS));
        System.out.printf("quantize dtype=%s %s: accuracy %s -> %s, agreement %.4f, output SQNR %.2f dB, weight SQNR %.2f dB, file %d -> %d bytes "
                + "(%.3fx)%n", dtype, name, comparison.accuracyBefore(), comparison.accuracyAfter(), comparison.top1Agreement(),
                comparison.sqnrDb(), (double) result.report().get("sqnr_db"), Files.size(file), written.length,
                (double) written.length / Files.size(file));

        double before = comparison.accuracyBefore().orElseThrow();
        double after = comparison.accuracyAfter().orElseThrow();
        assertThat(Math.abs(after - before)).as("accuracy change of %s in %s", name, dtype).isLessThanOrEqualTo(0.001);
        DataType type = dtype.equals("fp16") ? DataType.FLOAT16 : DataType.BFLOAT16;
        assertThat(result.report().layers()).allSatisfy(layer -> {
            String stored = layer.get("weight") + "_" + dtype;
            assertThat(converted.tensor(stored).dataType()).isEqualTo(type);
            NodeProto cast = converted.consumers(stored).get(0);
            assertThat(cast.getOpType()).isEqualTo("Cast");
            assertThat(converted.isInitializer((String) layer.get("weight"))).as("the float weight is gone").isFalse();
        });
        assertThat(((Number) result.report().get("weight_bytes_after")).longValue() * 2)
                .isEqualTo(((Number) result.report().get("weight_bytes_before")).longValue());
        if (type == DataType.BFLOAT16) {
            assertThat(converted.opsetVersion("").orElseThrow()).isGreaterThanOrEqualTo(13L);
        }
    }

    @Test
    void sixteenBitWeightsWithStaticActivationsOrPerTensorAreRefused() {
        OnnxModel model = OnnxModel.load(SharedData.model("pytorch_cnn_mnist.onnx"));
        InvalidParametersException error = catchThrowableOfType(InvalidParametersException.class,
                () -> QuantizeTechniqueTest.quantize(model, Map.of("dtype", "fp16", "activations", "true", "granularity", "per_tensor")));
        assertThat(error.getMessage()).contains("dtype").contains("activations=true").contains("granularity");
    }
}
