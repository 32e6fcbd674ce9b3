package io.condense.plugin.quantization;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import io.condense.sdk.data.Dataset;
import io.condense.sdk.data.NdArray;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.eval.EvaluationRequest;
import io.condense.sdk.eval.EvaluationResult;
import io.condense.sdk.eval.Evaluator;
import io.condense.sdk.eval.InferenceSession;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.technique.Parameters;
import io.condense.sdk.technique.TechniqueResult;
import io.condense.sdk.tensor.DataType;
import io.condense.sdk.tensor.Tensor;
import io.condense.sdk.testkit.Evaluators;
import io.condense.sdk.testkit.SharedData;
import io.condense.sdk.testkit.TestStepContext;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class QuantizeTechniqueTest {
    private static final int DIGITS = 1000;

    static TechniqueResult quantize(OnnxModel model, Map<String, String> values) {
        QuantizeTechnique technique = new QuantizeTechnique();
        Parameters parameters = Parameters.validate(technique.descriptor().parameters(), values);
        try (TestStepContext context = TestStepContext.builder().technique(technique, values).build()) {
            return technique.apply(model, parameters, context);
        }
    }

    static Dataset digitsFor(String model) {
        return SharedData.mnistDigits(DIGITS, model.startsWith("mnist8") ? 1f / 255 : 1f);
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource({"mnist8/model.onnx", "pytorch_cnn_mnist.onnx"})
    void perChannelKeepsAgreementAndShrinksTheFile(String name) throws Exception {
        Path file = SharedData.model(name);
        OnnxModel original = OnnxModel.load(file);
        TechniqueResult result = quantize(original, Map.of("bits", "8", "granularity", "per_channel"));
        byte[] written = result.model().toBytes();
        OnnxModel quantized = OnnxModel.fromBytes(written);

        EvaluationResult comparison = Evaluators.fromServiceLoader().compare(original, quantized,
                EvaluationRequest.of(digitsFor(name), DIGITS));
        double ratio = (double) written.length / Files.size(file);
        System.out.printf("quantize per_channel %s: agreement %.4f, accuracy %s -> %s, output SQNR %.2f dB, file %d -> %d bytes (%.3fx)%n",
                name, comparison.top1Agreement(), comparison.accuracyBefore(), comparison.accuracyAfter(), comparison.sqnrDb(),
                Files.size(file), written.length, ratio);
        System.out.println(result.report().toJson());

        assertThat(comparison.samples()).isEqualTo(DIGITS);
        assertThat(comparison.top1Agreement()).as("top-1 agreement of %s quantized per channel", name).isGreaterThanOrEqualTo(0.99);
        double weightRatio = ((Number) result.report().get("weight_bytes_after")).doubleValue()
                / ((Number) result.report().get("weight_bytes_before")).doubleValue();
        assertThat(weightRatio).as("stored weight bytes ratio of %s (int8 + scales + zero points)", name).isLessThanOrEqualTo(0.27);
        // mnist8 has 6k weights: its graph (node names, attributes, value_info, biases: 2.4 KB, 9% of the original file)
        // stays as it is, so int8 weights bring the whole file to 0.34x; the larger pytorch_cnn_mnist reaches 0.28x.
        assertThat(ratio).as("file size ratio of %s quantized per channel", name).isLessThanOrEqualTo(name.startsWith("mnist8") ? 0.35 : 0.3);
        long dequantizers = quantized.nodes().stream().filter(node -> node.getOpType().equals("DequantizeLinear")).count();
        assertThat(dequantizers).isEqualTo(result.report().layers().size()).isEqualTo(3L + (name.startsWith("mnist8") ? 0 : 1));
        assertThat(quantized.opsetVersion("")).contains(13L);
        assertThat(result.report().layers()).allSatisfy(layer -> assertThat((double) layer.get("sqnr_db")).isGreaterThan(35.0));
    }

    @Test
    void writesInt8WeightsScalesAndZeroPointsFeedingTheLayers() {
        OnnxModel original = OnnxModel.load(SharedData.model("pytorch_cnn_mnist.onnx"));
        OnnxModel quantized = quantize(original, Map.of()).model();
        Tensor weight = quantized.tensor("fc1.weight_quantized");
        assertThat(weight.dataType()).isEqualTo(DataType.INT8);
        assertThat(weight.shape()).containsExactly(50, 320);
        assertThat(quantized.tensor("fc1.weight_scale").shape()).containsExactly(50);
        Tensor zeroPoint = quantized.tensor("fc1.weight_zero_point");
        assertThat(zeroPoint.dataType()).isEqualTo(DataType.INT8);
        assertThat(zeroPoint.countNonZero()).isZero();
        assertThat(quantized.isInitializer("fc1.weight")).as("the float weight is gone").isFalse();
        assertThat(quantized.tensor("fc1.bias").dataType()).as("biases stay float").isEqualTo(DataType.FLOAT);
        NodeProto dequantize = quantized.producer("fc1.weight_dequantized").orElseThrow();
        assertThat(dequantize.getOpType()).isEqualTo("DequantizeLinear");
        assertThat(dequantize.getAttributeList()).anySatisfy(attribute -> {
            assertThat(attribute.getName()).isEqualTo("axis");
            assertThat(attribute.getI()).as("Gemm transB=1: output channels on axis 0").isZero();
        });
        assertThat(quantized.consumers("fc1.weight_dequantized")).extracting(NodeProto::getOpType).containsExactly("Gemm");

        // the written levels times the scales give back the weights within half a step
        float[] levels = weight.toFloatArray();
        float[] scales = quantized.tensor("fc1.weight_scale").toFloatArray();
        float[] floats = original.tensor("fc1.weight").toFloatArray();
        for (int i = 0; i < floats.length; i++) {
            float scale = scales[i / 320];
            assertThat(Math.abs(levels[i] * scale - floats[i])).isLessThanOrEqualTo(scale * 0.5f + 1e-7f);
        }
    }

    @Test
    void perTensorKeepsTheOpsetWhenItCanAndRuns() {
        String name = "pytorch_cnn_mnist.onnx";
        OnnxModel original = OnnxModel.load(SharedData.model(name));
        TechniqueResult result = quantize(original, Map.of("granularity", "per_tensor"));
        assertThat(result.model().opsetVersion("")).contains(10L);
        TensorProto scale = result.model().initializer("conv2.weight_scale").orElseThrow();
        assertThat(scale.getDimsCount()).as("per-tensor scale is a scalar").isZero();
        EvaluationResult comparison = Evaluators.fromServiceLoader().compare(original, result.model(),
                EvaluationRequest.of(digitsFor(name), DIGITS));
        System.out.printf("quantize per_tensor %s: agreement %.4f, min layer SQNR %.2f dB%n", name, comparison.top1Agreement(),
                (double) result.report().get("min_sqnr_db"));
        assertThat(comparison.top1Agreement()).isGreaterThanOrEqualTo(0.98);
        assertThat((double) result.report().get("min_sqnr_db")).as("per-tensor is coarser than per-channel")
                .isLessThan((double) quantize(original, Map.of()).report().get("min_sqnr_db"));
    }

    @Test
    void ultraFaceOutputsKeepThirtyDecibelsOnItsPhotos() throws Exception {
        OnnxModel original = OnnxModel.load(SharedData.model("ultraface/version-RFB-320.onnx"));
        TechniqueResult result = quantize(original, Map.of());
        OnnxModel quantized = OnnxModel.fromBytes(result.model().toBytes());
        Evaluator evaluator = Evaluators.fromServiceLoader();
        try (InferenceSession before = evaluator.open(original); InferenceSession after = evaluator.open(quantized)) {
            String input = before.inputs().get(0).name();
            for (String photo : new String[] {"img1", "img2"}) {
                Tensor tensor = Tensor.fromProto(TensorProto.parseFrom(Files.readAllBytes(
                        SharedData.model("ultraface/test_data/" + photo + "_input_0.pb"))));
                NdArray image = NdArray.ofFloats(tensor.shape(), tensor.toFloatArray());
                Map<String, NdArray> expected = before.run(Map.of(input, image));
                Map<String, NdArray> actual = after.run(Map.of(input, image));
                for (String output : expected.keySet()) {
                    double sqnr = sqnrDb(expected.get(output).toFloatArray(), actual.get(output).toFloatArray());
                    System.out.printf("quantize per_channel UltraFace RFB-320 %s output %s: SQNR %.2f dB%n", photo, output, sqnr);
                    assertThat(sqnr).as("SQNR of output %s on %s", output, photo).isGreaterThanOrEqualTo(30.0);
                }
            }
        }
        // the same through the evaluator, with both photos as one data set (its SQNR is over the first output)
        Dataset photos = photos();
        EvaluationResult comparison = evaluator.compare(original, quantized, EvaluationRequest.of(photos, 2));
        System.out.printf("quantize per_channel UltraFace RFB-320 evaluator: SQNR %.2f dB, cosine %.6f, layers %d, model %s -> %s bytes%n",
                comparison.sqnrDb(), comparison.cosineSimilarity(), result.report().layers().size(),
                result.report().get("model_bytes_before"), result.report().get("model_bytes_after"));
        assertThat(comparison.sqnrDb()).isGreaterThanOrEqualTo(30.0);
    }

    static Dataset photos() throws Exception {
        float[] values = null;
        long[] shape = null;
        String[] photos = {"img1", "img2"};
        for (int p = 0; p < photos.length; p++) {
            Tensor tensor = Tensor.fromProto(TensorProto.parseFrom(Files.readAllBytes(
                    SharedData.model("ultraface/test_data/" + photos[p] + "_input_0.pb"))));
            float[] one = tensor.toFloatArray();
            if (values == null) {
                values = new float[one.length * photos.length];
                shape = tensor.shape();
                shape[0] = photos.length;
            }
            System.arraycopy(one, 0, values, p * one.length, one.length);
        }
        return Dataset.of(NdArray.ofFloats(shape, values));
    }

    static double sqnrDb(float[] reference, float[] candidate) {
        double signal = 0;
        double noise = 0;
        for (int i = 0; i < reference.length; i++) {
            double difference = reference[i] - candidate[i];
            signal += (double) reference[i] * reference[i];
            noise += difference * difference;
        }
        return 10 * Math.log10(signal / noise);
    }

    @Test
    void modelWithNothingToQuantizeIsRefusedNamingWhatItHas() {
        OnnxModel model = OnnxModel.load(SharedData.model("skl_lr_mnist.onnx"));
        CondenseException error = catchThrowableOfType(CondenseException.class, () -> quantize(model, Map.of()));
        assertThat(error.code()).isEqualTo(ErrorCode.NOTHING_TO_COMPRESS);
        assertThat(error.getMessage()).contains("no Conv, Gemm or MatMul").contains("LinearClassifier").contains("ai.onnx.ml");
    }

    @Test
    void excludedLayersStayFloat() {
        OnnxModel original = OnnxModel.load(SharedData.model("pytorch_cnn_mnist.onnx"));
        TechniqueResult result = quantize(original, Map.of("exclude", "conv*", "min_elements", "400"));
        assertThat(result.report().layers()).extracting(layer -> layer.get("weight")).containsExactlyInAnyOrder("fc1.weight", "fc2.weight");
        assertThat(result.model().tensor("conv1.weight").dataType()).isEqualTo(DataType.FLOAT);
        assertThat(result.report().get("layers_skipped")).isEqualTo(2);
    }

    @Test
    void cancellationStopsBetweenLayers() {
        QuantizeTechnique technique = new QuantizeTechnique();
        OnnxModel model = OnnxModel.load(SharedData.model("pytorch_cnn_mnist.onnx"));
        Parameters parameters = Parameters.validate(technique.descriptor().parameters(), Map.of());
        try (TestStepContext context = TestStepContext.builder().technique(technique, Map.of()).cancelled().build()) {
            CondenseException error = catchThrowableOfType(CondenseException.class, () -> technique.apply(model, parameters, context));
            assertThat(error.code()).isEqualTo(ErrorCode.CANCELLED);
        }
    }
}
