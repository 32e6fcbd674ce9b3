package io.condense.plugin.quantization;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.eval.EvaluationRequest;
import io.condense.sdk.eval.EvaluationResult;
import io.condense.sdk.model.InitializerInfo;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.technique.InvalidParametersException;
import io.condense.sdk.technique.TechniqueResult;
import io.condense.sdk.tensor.DataType;
import io.condense.sdk.tensor.Float16;
import io.condense.sdk.testkit.Evaluators;
import io.condense.sdk.testkit.SharedData;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** {@code dtype=fp16, scope=initializers}: the float32 tensors a k-means model keeps (biases, codebooks) stored as float16. */
class HalfPrecisionInitializersTest {
    private static final int DIGITS = 1000;

    @Test
    void aKmeansModelsBiasesAndCodebooksBecomeFloat16AndItsAnswersStay() {
        OnnxModel original = OnnxModel.load(SharedData.model("pytorch_cnn_mnist.onnx"));
        OnnxModel shared = OnnxModel.fromBytes(QuantizeTechniqueTest.quantize(original, Map.of("scheme", "kmeans", "bits", "4")).model()
                .toBytes());
        // 16 elements: the codebooks too (the default, 64, leaves this small CNN's float32 tensors alone)
        TechniqueResult result = QuantizeTechniqueTest.quantize(shared, Map.of("dtype", "fp16", "scope", "initializers", "min_elements",
                "16"));
        OnnxModel half = OnnxModel.fromBytes(result.model().toBytes());
        System.out.println("quantize fp16 initializers after kmeans 4 bits: " + result.report().toJson());

        int converted = 0;
        for (InitializerInfo info : shared.initializers()) {
            if (info.dataType() != DataType.FLOAT) {
                continue;
            }
            if (info.elements() < 16) {
                assertThat(half.tensor(info.name()).dataType()).as(info.name() + " is too small to gain").isEqualTo(DataType.FLOAT);
                continue;
            }
            converted++;
            // the float16 copy holds each value rounded to float16, and a Cast gives the old name back to the readers
            assertThat(half.isInitializer(info.name())).isFalse();
            TensorProto stored = half.initializer(info.name() + "_fp16").orElseThrow();
            assertThat(stored.getDataType()).isEqualTo(TensorProto.DataType.FLOAT16_VALUE);
            float[] before = shared.tensor(info.name()).toFloatArray();
            float[] after = half.tensor(info.name() + "_fp16").toFloatArray();
            for (int i = 0; i < before.length; i++) {
                assertThat(after[i]).isEqualTo(Float16.toFloat(Float16.fromFloat(before[i])));
            }
            NodeProto cast = half.producer(info.name()).orElseThrow();
            assertThat(cast.getOpType()).isEqualTo("Cast");
            assertThat(cast.getInput(0)).isEqualTo(info.name() + "_fp16");
        }
        assertThat(converted).as("four codebooks and two biases converted").isEqualTo(6);
        assertThat((int) result.report().get("initializers_converted")).isEqualTo(converted);
        assertThat((long) result.report().get("initializer_bytes_after") * 2).isEqualTo((long) result.report().get("initializer_bytes_before"));

        // runs in ONNX Runtime with the same answers as the float32 codebooks, within a tenth of a point
        EvaluationResult comparison = Evaluators.fromServiceLoader().compare(shared, half,
                EvaluationRequest.of(SharedData.mnistDigits(DIGITS, StaticActivationQuantizationTest.scaleFor("pytorch_cnn_mnist.onnx")),
                        DIGITS));
        System.out.printf("fp16 initializers: accuracy %s -> %s, agreement %.4f, output SQNR %.2f dB%n", comparison.accuracyBefore(),
                comparison.accuracyAfter(), comparison.top1Agreement(), comparison.sqnrDb());
        assertThat(Math.abs(comparison.accuracyBefore().orElseThrow() - comparison.accuracyAfter().orElseThrow())).isLessThanOrEqualTo(0.001);
        assertThat(comparison.sqnrDb()).isGreaterThan(40);
    }

    @Test
    void minElementsChoosesWhatIsConvertedAndNothingLeftIsAClearError() {
        OnnxModel original = OnnxModel.load(SharedData.model("pytorch_cnn_mnist.onnx"));
        TechniqueResult everything = QuantizeTechniqueTest.quantize(original, Map.of("dtype", "fp16", "scope", "initializers",
                "min_elements", "1"));
        assertThat(OnnxModel.fromBytes(everything.model().toBytes()).initializers()).noneMatch(info -> info.dataType() == DataType.FLOAT);

        CondenseException nothing = catchThrowableOfType(() -> QuantizeTechniqueTest.quantize(original, Map.of("dtype", "fp16",
                "scope", "initializers", "min_elements", "100000000")), CondenseException.class);
        assertThat(nothing.code()).isEqualTo(ErrorCode.NOTHING_TO_COMPRESS);
        assertThat(nothing.getMessage()).contains("at least 100000000 elements").contains("lower min_elements");
    }

    @Test
    void onlyFloat16AndNoLayerSelection() {
        OnnxModel original = OnnxModel.load(SharedData.model("pytorch_cnn_mnist.onnx"));
        InvalidParametersException bf16 = catchThrowableOfType(() -> QuantizeTechniqueTest.quantize(original, Map.of("dtype", "bf16",
                "scope", "initializers")), InvalidParametersException.class);
        assertThat(bf16.getMessage()).contains("only as float16");
        InvalidParametersException exclude = catchThrowableOfType(() -> QuantizeTechniqueTest.quantize(original, Map.of("dtype", "fp16",
                "scope", "initializers", "exclude", "fc1")), InvalidParametersException.class);
        assertThat(exclude.getMessage()).contains("exclude and exclude_ops do not apply");
    }
}
