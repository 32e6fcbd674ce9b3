package io.condense.plugin.quantization;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import ai.onnx.proto.OnnxMl.NodeProto;
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
import io.condense.sdk.testkit.Evaluators;
import io.condense.sdk.testkit.SharedData;
import io.condense.sdk.testkit.TestStepContext;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class StaticActivationQuantizationTest {
    private static final int DIGITS = 1000;
    private static final int CALIBRATION_SAMPLES = 200;

    static TechniqueResult quantize(OnnxModel model, Map<String, String> values, Dataset calibration) {
        QuantizeTechnique technique = new QuantizeTechnique();
        Parameters parameters = Parameters.validate(technique.descriptor().parameters(), values);
        TestStepContext.Builder builder = TestStepContext.builder().technique(technique, values);
        if (calibration != null) {
            builder.calibrationData(calibration);
        }
        try (TestStepContext context = builder.build()) {
            return technique.apply(model, parameters, context);
        }
    }

    static float scaleFor(String name) {
        return name.startsWith("mnist8") ? 1f / 255 : 1f;
    }

    @ParameterizedTest(name = "{0} symmetric={1}")
    @CsvSource({"mnist8/model.onnx, false", "pytorch_cnn_mnist.onnx, false", "pytorch_cnn_mnist.onnx, true"})
    void staticInt8PerChannelStaysWithinHalfAPointOfFloat(String name, boolean symmetric) {
        OnnxModel original = OnnxModel.load(SharedData.model(name));
        Dataset calibration = SharedData.mnistDigits(CALIBRATION_SAMPLES, scaleFor(name));
        TechniqueResult result = quantize(original, Map.of("activations", "true", "symmetric", Boolean.toString(symmetric)), calibration);
        OnnxModel quantized = OnnxModel.fromBytes(result.model().toBytes());

        EvaluationResult comparison = Evaluators.fromServiceLoader().compare(original, quantized,
                EvaluationRequest.of(SharedData.mnistDigits(DIGITS, scaleFor(name)), DIGITS));
        System.out.printf("quantize static %s symmetric=%s: accuracy %s -> %s, agreement %.4f, output SQNR %.2f dB (calibration %.2f dB)%n",
                name, symmetric, comparison.accuracyBefore(), comparison.accuracyAfter(), comparison.top1Agreement(), comparison.sqnrDb(),
                (double) result.report().get("output_sqnr_db"));
        System.out.println(result.report().toJson());
        Map<String, Integer> kernels;
        try {
            kernels = RuntimeKernels.operatorCounts(quantized);
            System.out.printf("  ONNX Runtime kernels of %s: float %s, static int8 %s%n", name, RuntimeKernels.operatorCounts(original),
                    kernels);
        } catch (Exception e) {
            throw new AssertionError(e);
        }
        assertThat(kernels).as("ONNX Runtime fuses both convolutions into integer kernels").containsEntry("QLinearConv", 2);
        assertThat(kernels.getOrDefault("QLinearMatMul", 0) + kernels.getOrDefault("QGemm", 0))
                .as("and the fully connected layers").isEqualTo(name.startsWith("mnist8") ? 1 : 2);

        double before = comparison.accuracyBefore().orElseThrow();
        double after = comparison.accuracyAfter().orElseThrow();
        assertThat(after).as("accuracy of %s with static int8 activations", name).isGreaterThanOrEqualTo(before - 0.005);
        long quantizers = quantized.nodes().stream().filter(node -> node.getOpType().equals("QuantizeLinear")).count();
        assertThat(quantizers).isEqualTo(((Number) result.report().get("activations_quantized")).longValue()).isPositive();
        assertThat(result.report().layers()).allSatisfy(layer -> {
            assertThat(layer).containsKeys("activation", "activation_min", "activation_max", "activation_scale", "activation_zero_point");
            assertThat(((Number) layer.get("activation_scale")).doubleValue()).isPositive();
        });
        // every quantized layer reads its activation through a DequantizeLinear fed by a QuantizeLinear
        for (NodeProto node : quantized.nodes()) {
            if (node.getOpType().equals("Conv") || node.getOpType().equals("Gemm") || node.getOpType().equals("MatMul")) {
                NodeProto dequantize = quantized.producer(node.getInput(0)).orElseThrow();
                assertThat(dequantize.getOpType()).isEqualTo("DequantizeLinear");
                assertThat(quantized.producer(dequantize.getInput(0)).orElseThrow().getOpType()).isEqualTo("QuantizeLinear");
            }
        }
        assertThat((double) result.report().get("output_sqnr_db")).isGreaterThan(20.0);
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource({"minmax", "percentile", "entropy", "mse"})
    void everyCalibrationMethodRuns(String method) {
        String name = "pytorch_cnn_mnist.onnx";
        OnnxModel original = OnnxModel.load(SharedData.model(name));
        TechniqueResult result = quantize(original, Map.of("activations", "true", "calibration", method, "calibration_samples", "100"),
                SharedData.mnistDigits(CALIBRATION_SAMPLES, 1f));
        EvaluationResult comparison = Evaluators.fromServiceLoader().compare(original, result.model(),
                EvaluationRequest.of(SharedData.mnistDigits(DIGITS, 1f), DIGITS));
        System.out.printf("quantize static %s calibration=%s: accuracy %s -> %s, agreement %.4f, calibration output SQNR %.2f dB%n", name,
                method, comparison.accuracyBefore(), comparison.accuracyAfter(), comparison.top1Agreement(),
                (double) result.report().get("output_sqnr_db"));
        for (Map<String, Object> layer : result.report().layers()) {
            System.out.printf("  %s activation %s: seen [%s, %s], range [%s, %s], scale %s, zero point %s%n", layer.get("weight"),
                    layer.get("activation"), layer.get("activation_seen_min"), layer.get("activation_seen_max"), layer.get("activation_min"),
                    layer.get("activation_max"), layer.get("activation_scale"), layer.get("activation_zero_point"));
        }
        assertThat(result.report().get("calibration")).isEqualTo(method);
        assertThat(result.report().get("calibration_samples")).isEqualTo(100);
        assertThat(comparison.top1Agreement()).isGreaterThanOrEqualTo(0.98);
    }

    @Test
    void activationsWithoutCalibrationDataAreRefused() {
        OnnxModel model = OnnxModel.load(SharedData.model("pytorch_cnn_mnist.onnx"));
        CondenseException error = catchThrowableOfType(CondenseException.class,
                () -> quantize(model, Map.of("activations", "true"), null));
        assertThat(error.code()).isEqualTo(ErrorCode.DATA_REQUIRED);
        assertThat(error.getMessage()).contains("--calibration-data");
    }

    @Test
    void calibrationDataOfTheWrongShapeIsRefused() {
        OnnxModel model = OnnxModel.load(SharedData.model("pytorch_cnn_mnist.onnx"));
        Dataset wrong = Dataset.of(NdArray.ofFloats(new long[] {2, 10}, new float[20]));
        CondenseException error = catchThrowableOfType(CondenseException.class,
                () -> quantize(model, Map.of("activations", "true"), wrong));
        assertThat(error.code()).isEqualTo(ErrorCode.INVALID_DATA);
        assertThat(error.getMessage()).contains("10 values");
    }

    @Test
    void ultraFaceStaticInt8KeepsItsDetections() throws Exception {
        OnnxModel original = OnnxModel.load(SharedData.model("ultraface/version-RFB-320.onnx"));
        Dataset photos = QuantizeTechniqueTest.photos();
        TechniqueResult result = quantize(original, Map.of("activations", "true", "symmetric", "true"), photos);
        OnnxModel quantized = OnnxModel.fromBytes(result.model().toBytes());
        Evaluator evaluator = Evaluators.fromServiceLoader();
        try (InferenceSession before = evaluator.open(original); InferenceSession after = evaluator.open(quantized)) {
            String input = before.inputs().get(0).name();
            for (int photo = 0; photo < 2; photo++) {
                NdArray image = photos.inputs().slice(photo, 1);
                Map<String, NdArray> expected = before.run(Map.of(input, image));
                Map<String, NdArray> actual = after.run(Map.of(input, image));
                Map<String, Double> sqnr = new HashMap<>();
                for (String output : expected.keySet()) {
                    sqnr.put(output, QuantizeTechniqueTest.sqnrDb(expected.get(output).toFloatArray(), actual.get(output).toFloatArray()));
                }
                float[] scoresBefore = expected.get("scores").toFloatArray();
                float[] scoresAfter = actual.get("scores").toFloatArray();
                int facesBefore = 0;
                int facesAfter = 0;
                int both = 0;
                for (int anchor = 1; anchor < scoresBefore.length; anchor += 2) {
                    boolean faceBefore = scoresBefore[anchor] > 0.7f;
                    boolean faceAfter = scoresAfter[anchor] > 0.7f;
                    facesBefore += faceBefore ? 1 : 0;
                    facesAfter += faceAfter ? 1 : 0;
                    both += faceBefore && faceAfter ? 1 : 0;
                }
                System.out.printf("quantize static int8 UltraFace RFB-320 img%d: SQNR %s, anchors with face score > 0.7: float %d, "
                        + "int8 %d, both %d%n", photo + 1, sqnr, facesBefore, facesAfter, both);
                assertThat(facesBefore).isPositive();
                assertThat(both).as("anchors found by both on img%d", photo + 1).isGreaterThanOrEqualTo((int) Math.ceil(facesBefore * 0.8));
                assertThat(facesAfter).isLessThanOrEqualTo(facesBefore + Math.max(2, facesBefore / 5));
            }
        }
        Map<String, Integer> kernels = RuntimeKernels.operatorCounts(quantized);
        System.out.printf("quantize static int8 UltraFace RFB-320: calibration output SQNR %.2f dB, %s activations, %d layers, "
                + "ONNX Runtime kernels %s%n", (double) result.report().get("output_sqnr_db"), result.report().get("activations_quantized"),
                result.report().layers().size(), kernels);
        // 37 of its 52 convolutions fuse here (ONNX Runtime 1.29); the other 15 stay float Conv
        assertThat(kernels.getOrDefault("QLinearConv", 0)).as("UltraFace convolutions fused into integer kernels").isGreaterThanOrEqualTo(30);
    }
}
