package io.condense.plugin.quantization;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import io.condense.sdk.data.Dataset;
import io.condense.sdk.data.NdArray;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.eval.EvaluationRequest;
import io.condense.sdk.eval.EvaluationResult;
import io.condense.sdk.eval.Evaluator;
import io.condense.sdk.eval.InferenceSession;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.technique.InvalidParametersException;
import io.condense.sdk.technique.TechniqueResult;
import io.condense.sdk.testkit.Evaluators;
import io.condense.sdk.testkit.SharedData;
import io.condense.sdk.tensor.DataType;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** BatchNormalization folding and fusion, exclude_ops, per-layer output SQNR, bias correction and the sensitivity list. */
class Int8StaticFeaturesTest {
    private static final int DIGITS = 1000;

    @Test
    void ultraFaceUint8FoldsBatchNormalizationFusesEveryConvolutionAndKeepsItsDetections() throws Exception {
        OnnxModel original = OnnxModel.load(SharedData.model("ultraface/version-RFB-320.onnx"));
        Dataset photos = QuantizeTechniqueTest.photos();
        TechniqueResult result = StaticActivationQuantizationTest.quantize(original, Map.of("activations", "true"), photos);
        OnnxModel quantized = OnnxModel.fromBytes(result.model().toBytes());
        assertThat(result.report().get("folded_batchnorms")).isEqualTo(35);
        assertThat(quantized.nodes()).noneMatch(node -> node.getOpType().equals("BatchNormalization"));
        Map<String, Integer> kernels = RuntimeKernels.operatorCounts(quantized);
        System.out.printf("quantize static uint8 UltraFace RFB-320: ONNX Runtime kernels %s%n", kernels);
        assertThat(kernels.getOrDefault("QLinearConv", 0)).as("every convolution fused").isEqualTo(52);
        assertThat(kernels.getOrDefault("Conv", 0) + kernels.getOrDefault("FusedConv", 0)).isZero();
        assertThat(kernels.getOrDefault("Transpose", 0)).as("layout transposes").isLessThanOrEqualTo(2);
        assertDetectionsAgree(original, quantized, photos, "uint8");
        // per-layer output SQNR on every layer, worst first
        List<Map<String, Object>> layers = result.report().layers();
        assertThat(layers).hasSize(52).allSatisfy(layer -> assertThat(layer).containsKey("output_sqnr_db"));
        for (int i = 1; i < layers.size(); i++) {
            assertThat((double) layers.get(i).get("output_sqnr_db")).isGreaterThanOrEqualTo((double) layers.get(i - 1).get("output_sqnr_db"));
        }
        System.out.printf("worst layers: %s (%.1f dB), %s (%.1f dB), best %s (%.1f dB)%n", layers.get(0).get("weight"),
                (double) layers.get(0).get("output_sqnr_db"), layers.get(1).get("weight"), (double) layers.get(1).get("output_sqnr_db"),
                layers.get(51).get("weight"), (double) layers.get(51).get("output_sqnr_db"));
    }

    static void assertDetectionsAgree(OnnxModel original, OnnxModel quantized, Dataset photos, String label) {
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
                System.out.printf("quantize %s UltraFace RFB-320 img%d: SQNR %s, anchors with face score > 0.7: float %d, quantized %d, "
                        + "both %d%n", label, photo + 1, sqnr, facesBefore, facesAfter, both);
                assertThat(facesBefore).isPositive();
                assertThat(both).as("anchors found by both on img%d", photo + 1).isGreaterThanOrEqualTo((int) Math.ceil(facesBefore * 0.9));
                assertThat(facesAfter).isLessThanOrEqualTo(facesBefore + Math.max(2, facesBefore / 10));
            }
        }
    }

    @Test
    void calibratesFromAMemoryMappedNpyFile(@org.junit.jupiter.api.io.TempDir java.nio.file.Path folder) {
        OnnxModel original = OnnxModel.load(SharedData.model("pytorch_cnn_mnist.onnx"));
        Dataset digits = SharedData.mnistDigits(200, 1f);
        java.nio.file.Path file = folder.resolve("calibration.npy");
        io.condense.sdk.data.Npy.write(file, NdArray.ofFloats(digits.inputs().shape(), digits.inputs().toFloatArray()));
        Dataset mapped = io.condense.sdk.data.DataReaders.dataset(file, null);
        assertThat(mapped.inputs().isMapped()).isTrue();
        Map<String, String> values = Map.of("activations", "true", "calibration_samples", "200");
        TechniqueResult fromFile = StaticActivationQuantizationTest.quantize(original, values, mapped);
        TechniqueResult fromHeap = StaticActivationQuantizationTest.quantize(original, values, digits);
        // the same samples give the same ranges, so the same model
        assertThat(fromFile.model().toBytes()).isEqualTo(fromHeap.model().toBytes());
        assertThat((double) fromFile.report().get("output_sqnr_db")).isGreaterThan(35);
    }

    @Test
    void excludeOpsKeepsThoseOpTypesFloat() {
        OnnxModel original = OnnxModel.load(SharedData.model("pytorch_cnn_mnist.onnx"));
        TechniqueResult result = QuantizeTechniqueTest.quantize(original, Map.of("exclude_ops", "Gemm"));
        assertThat(result.report().layers()).extracting(layer -> layer.get("op")).containsOnly("Conv").hasSize(2);
        assertThat(result.model().tensor("fc1.weight").dataType()).isEqualTo(DataType.FLOAT);
        assertThat(result.report().get("layers_skipped")).isEqualTo(2);
        assertThat(result.report().toJson()).contains("op type Gemm is in exclude_ops");

        InvalidParametersException error = catchThrowableOfType(InvalidParametersException.class,
                () -> QuantizeTechniqueTest.quantize(original, Map.of("exclude_ops", "conv")));
        assertThat(error.getMessage()).contains("exclude_ops").contains("'conv'").contains("Conv, ConvTranspose, Gemm, MatMul, LSTM, GRU, RNN or Gather");
    }

    @Test
    void biasCorrectionMovesTheBiasesAndIsMeasured() {
        OnnxModel original = OnnxModel.load(SharedData.model("pytorch_cnn_mnist.onnx"));
        Dataset calibration = SharedData.mnistDigits(200, 1f);
        Dataset evaluation = SharedData.mnistDigits(DIGITS, 1f);
        Map<String, Double> outcome = new HashMap<>();
        for (String granularity : List.of("per_tensor", "per_channel")) {
            for (boolean corrected : new boolean[] {false, true}) {
                TechniqueResult result = StaticActivationQuantizationTest.quantize(original, Map.of("granularity", granularity,
                        "bias_correction", Boolean.toString(corrected), "calibration_samples", "200"), calibration);
                OnnxModel quantized = OnnxModel.fromBytes(result.model().toBytes());
                EvaluationResult comparison = Evaluators.fromServiceLoader().compare(original, quantized, EvaluationRequest.of(evaluation, DIGITS));
                double worst = result.report().layers().stream().mapToDouble(layer -> (double) layer.get("output_sqnr_db")).min().orElseThrow();
                System.out.printf("quantize %s bias_correction=%s pytorch_cnn_mnist: accuracy %s -> %s, agreement %.4f, output SQNR %.2f dB, "
                                + "worst layer output %.2f dB, layers %s%n", granularity, corrected, comparison.accuracyBefore(),
                        comparison.accuracyAfter(), comparison.top1Agreement(), comparison.sqnrDb(), worst, result.report().layers());
                outcome.put(granularity + corrected, comparison.sqnrDb());
                assertThat(comparison.top1Agreement()).isGreaterThanOrEqualTo(0.99);
                if (corrected) {
                    assertThat(result.report().get("bias_corrected_layers")).isEqualTo(4);
                    assertThat(result.report().layers()).allSatisfy(layer -> {
                        assertThat(layer.get("bias_correction")).isEqualTo("applied");
                        assertThat((double) layer.get("bias_shift_mean_abs")).isPositive();
                    });
                }
            }
        }
        System.out.printf("bias correction, output SQNR over %d digits: %s%n", DIGITS, outcome);
    }

    @Test
    void biasCorrectionAndSensitivityNeedCalibrationData() {
        OnnxModel original = OnnxModel.load(SharedData.model("pytorch_cnn_mnist.onnx"));
        for (String parameter : List.of("bias_correction", "sensitivity")) {
            CondenseException error = catchThrowableOfType(CondenseException.class,
                    () -> StaticActivationQuantizationTest.quantize(original, Map.of(parameter, "true"), null));
            assertThat(error.code()).isEqualTo(ErrorCode.DATA_REQUIRED);
            assertThat(error.getMessage()).contains(parameter + "=true").contains("--calibration-data");
        }
    }

    @Test
    void sensitivityListsTheLayersToKeepFloatWithinTheDrop() {
        OnnxModel original = OnnxModel.load(SharedData.model("pytorch_cnn_mnist.onnx"));
        Dataset calibration = SharedData.mnistDigits(DIGITS, 1f);
        // entropy calibration clips this model's activations hard (see README): a 0.1-point budget on 1,000 labelled digits
        TechniqueResult result = StaticActivationQuantizationTest.quantize(original, Map.of("activations", "true",
                "calibration", "entropy", "calibration_samples", Integer.toString(DIGITS), "sensitivity", "true", "max_drop", "0.1"),
                calibration);
        @SuppressWarnings("unchecked")
        Map<String, Object> sensitivity = (Map<String, Object>) result.report().get("sensitivity");
        System.out.println("sensitivity pytorch_cnn_mnist entropy: " + sensitivity + ", ranking "
                + result.report().layers().stream().map(layer -> layer.get("weight") + " " + layer.get("output_sqnr_db")).toList());
        assertThat(sensitivity.get("metric")).isEqualTo("accuracy_points");
        assertThat((boolean) sensitivity.get("within_max_drop")).isTrue();
        assertThat((double) sensitivity.get("drop")).isLessThanOrEqualTo(0.1 + 1e-9);
        @SuppressWarnings("unchecked")
        List<String> keep = (List<String>) sensitivity.get("keep_float");
        if ((double) sensitivity.get("drop_all_quantized") > 0.1 + 1e-9) {
            assertThat(keep).isNotEmpty();
            // the layers kept float are the worst-ranked ones of the report, in that order
            List<Object> ranked = result.report().layers().stream().map(layer -> layer.get("weight")).toList();
            assertThat(ranked.subList(0, keep.size())).isEqualTo(List.copyOf(keep));
        } else {
            assertThat(keep).isEmpty();
        }
        // a generous budget keeps nothing float
        TechniqueResult generous = StaticActivationQuantizationTest.quantize(original, Map.of("activations", "true", "calibration_samples", "100",
                "sensitivity", "true", "max_drop", "50"), calibration);
        @SuppressWarnings("unchecked")
        Map<String, Object> none = (Map<String, Object>) generous.report().get("sensitivity");
        assertThat((List<?>) none.get("keep_float")).isEmpty();
        assertThat((List<?>) none.get("steps")).isEmpty();
    }
}
