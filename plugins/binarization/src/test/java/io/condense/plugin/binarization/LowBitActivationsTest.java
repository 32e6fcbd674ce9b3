package io.condense.plugin.binarization;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;
import static org.assertj.core.api.Assertions.within;

import ai.onnx.proto.OnnxMl.NodeProto;
import io.condense.sdk.data.Dataset;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.eval.EvaluationRequest;
import io.condense.sdk.eval.EvaluationResult;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.technique.InvalidParametersException;
import io.condense.sdk.technique.ParameterProblem;
import io.condense.sdk.technique.Technique;
import io.condense.sdk.technique.TechniqueResult;
import io.condense.sdk.tensor.DataType;
import io.condense.sdk.testkit.Evaluators;
import io.condense.sdk.testkit.SharedData;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * W1-A8 and W2-A8: binary or ternary weights with static 8-bit activations ({@code activations=8}), calibrated on 200
 * real digits that the 1,000 evaluation digits do not include, run in ONNX Runtime and compared with weight-only
 * binarization at the same settings.
 */
class LowBitActivationsTest {
    private static final int CALIBRATION_DIGITS = 200;
    /** How much accuracy the int8 activations may cost on top of the low-bit weights: a few points. */
    private static final double ACTIVATION_COST = 0.03;

    private static Technique technique(String id) {
        return id.equals("ternarize") ? new TernarizeTechnique() : new BinarizeTechnique();
    }

    private static Map<String, String> values(String settings) {
        Map<String, String> values = new LinkedHashMap<>();
        for (String setting : settings.split(";")) {
            String[] pair = setting.split("=", 2);
            values.put(pair[0].trim(), pair[1].trim());
        }
        return values;
    }

    @ParameterizedTest(name = "{0} {1} {2}")
    @CsvSource({
            "mnist8/model.onnx, binarize, method=bwn, 0.90",
            "mnist8/model.onnx, binarize, method=abc;bases=3, 0.95",
            "mnist8/model.onnx, binarize, method=horq;order=2, 0.95",
            "mnist8/model.onnx, ternarize, method=twn, 0.95",
            "mnist8/model.onnx, binarize, method=bwn;keep_first_last=false, 0.75",
            "mnist8/model.onnx, ternarize, method=twn;keep_first_last=false, 0.80",
            "pytorch_cnn_mnist.onnx, binarize, method=bwn, 0.92",
            "pytorch_cnn_mnist.onnx, binarize, method=abc;bases=3, 0.93",
            "pytorch_cnn_mnist.onnx, binarize, method=horq;order=2, 0.93",
            "pytorch_cnn_mnist.onnx, ternarize, method=twn, 0.91",
            "pytorch_cnn_mnist.onnx, binarize, method=bwn;keep_first_last=false, 0.85",
            "pytorch_cnn_mnist.onnx, ternarize, method=twn;keep_first_last=false, 0.90"})
    void int8ActivationsRunInOnnxRuntimeAndCostAtMostAFewPoints(String name, String techniqueId, String settings, double floor) {
        Technique technique = technique(techniqueId);
        OnnxModel original = OnnxModel.load(SharedData.model(name));
        Dataset digits = Models.digitsFor(name);
        Map<String, String> weightOnlyValues = values(settings);
        Map<String, String> activationValues = new LinkedHashMap<>(weightOnlyValues);
        activationValues.put("activations", "8");

        TechniqueResult weightOnly = Models.apply(technique, original, weightOnlyValues, digits, null);
        TechniqueResult result = Models.apply(technique, original, activationValues, digits, Models.calibrationDigitsFor(name, CALIBRATION_DIGITS));
        OnnxModel written = OnnxModel.fromBytes(result.model().toBytes());
        EvaluationResult fresh = Evaluators.fromServiceLoader().compare(original, written, EvaluationRequest.of(digits, Models.DIGITS));
        Map<String, Integer> kernels = RuntimeKernels.count(written);
        int integerKernels = kernels.getOrDefault("QLinearConv", 0) + kernels.getOrDefault("QLinearMatMul", 0)
                + kernels.getOrDefault("QGemm", 0);

        double before = fresh.accuracyBefore().orElseThrow();
        double weightsAccuracy = accuracyAfter(weightOnly);
        double after = fresh.accuracyAfter().orElseThrow();
        System.out.printf("%s %s activations=8 on %s: accuracy %.4f -> weight-only %.4f -> with int8 activations %.4f (top-1 agreement %.4f), "
                        + "%s layers changed, %s activation QDQ pairs, output SQNR %.2f dB (vs weight-only %.2f dB), "
                        + "file %s -> %s bytes, ONNX Runtime integer kernels %d %s%n",
                techniqueId, settings, name, before, weightsAccuracy, after, fresh.top1Agreement(), result.report().get("layers_changed"),
                result.report().get("activations_quantized"), (double) result.report().get("output_sqnr_db"),
                (double) result.report().get("activation_sqnr_db"), result.report().get("model_bytes_before"),
                result.report().get("model_bytes_after"), integerKernels, kernels);

        // what the report says is what a fresh run of the written model gives
        assertThat(fresh.samples()).as("ONNX Runtime runs the W-A8 %s", name).isEqualTo(Models.DIGITS);
        @SuppressWarnings("unchecked")
        Map<String, Object> reported = (Map<String, Object>) result.report().get("evaluation");
        assertThat(reported.get("accuracy_after")).isEqualTo(after);
        assertThat(result.report().get("activations")).isEqualTo("8");
        assertThat(weightOnly.report().get("activations")).isEqualTo("float");
        assertThat(result.report().get("calibration_samples")).isEqualTo(CALIBRATION_DIGITS);
        assertThat(result.report().get("layers_changed")).isEqualTo(weightOnly.report().get("layers_changed"));

        assertThat(before).as("the float model on the shared digits").isGreaterThan(0.98);
        assertThat(after).as("accuracy of %s %s with int8 activations (chance is 0.1)", techniqueId, settings).isGreaterThanOrEqualTo(floor);
        assertThat(after).as("int8 activations cost at most %s over weight-only %s", ACTIVATION_COST, settings)
                .isGreaterThanOrEqualTo(weightsAccuracy - ACTIVATION_COST);
        assertThat((double) result.report().get("output_sqnr_db")).as("output SQNR against the float model").isFinite().isPositive();
        assertThat((double) result.report().get("activation_sqnr_db")).as("output SQNR against the weight-only model")
                .isGreaterThan((double) result.report().get("output_sqnr_db"));

        int layers = checkQuantizedActivations(written, result);
        assertThat(layers).as("changed layers reading quantized activations").isEqualTo(result.report().get("layers_changed"));
        assertThat(written.nodes().stream().filter(node -> node.getOpType().equals("QuantizeLinear")).count())
                .isEqualTo(((Number) result.report().get("activations_quantized")).longValue());
        checkLevels(original, written, result, techniqueId);
        // layers whose weight is one DequantizeLinear fuse into integer kernels; a Sum of bases keeps the layer float
        assertThat(integerKernels).as("layers ONNX Runtime runs as integer kernels").isEqualTo(result.report().get("fusable_layers"));
        boolean severalBases = settings.contains("abc") || settings.contains("horq");
        assertThat(integerKernels == 0).isEqualTo(severalBases);
    }

    @SuppressWarnings("unchecked")
    private static double accuracyAfter(TechniqueResult result) {
        return ((Number) ((Map<String, Object>) result.report().get("evaluation")).get("accuracy_after")).doubleValue();
    }

    /**
     * Every changed layer (its weight read through DequantizeLinear, or the Sum of several) reads its activation through
     * QuantizeLinear -> DequantizeLinear, writes its output only to a QuantizeLinear, and reads its bias, if it has one,
     * as int32 levels through DequantizeLinear. Returns the number of such layers.
     */
    private static int checkQuantizedActivations(OnnxModel written, TechniqueResult result) {
        int layers = 0;
        for (NodeProto node : written.nodes()) {
            if (!Set.of("Conv", "Gemm", "MatMul").contains(node.getOpType())) {
                continue;
            }
            int weightInput = -1;
            for (int input = 0; input < 2; input++) {
                String producer = written.producer(node.getInput(input)).map(NodeProto::getOpType).orElse("");
                if (!written.isInitializer(node.getInput(input)) && (producer.equals("Sum")
                        || producer.equals("DequantizeLinear") && written.producer(written.producer(node.getInput(input)).orElseThrow()
                                .getInput(0)).isEmpty())) {
                    weightInput = input;
                }
            }
            if (weightInput < 0) {
                continue;
            }
            layers++;
            String activation = node.getInput(1 - weightInput);
            NodeProto dequantize = written.producer(activation).orElseThrow();
            assertThat(dequantize.getOpType()).as("what %s reads its activation from", node.getName()).isEqualTo("DequantizeLinear");
            assertThat(written.producer(dequantize.getInput(0)).orElseThrow().getOpType()).isEqualTo("QuantizeLinear");
            // the output pair sits right after the layer, or after the one Relu that reads it (uint8 activations)
            String quantizedOutput = node.getOutput(0);
            List<NodeProto> outputReaders = written.consumers(quantizedOutput);
            if (outputReaders.size() == 1 && outputReaders.get(0).getOpType().equals("Relu")) {
                quantizedOutput = outputReaders.get(0).getOutput(0);
            }
            assertThat(written.consumers(quantizedOutput)).as("what reads the output of %s", node.getName())
                    .extracting(NodeProto::getOpType).containsOnly("QuantizeLinear");
            if (node.getInputCount() > 2) {
                NodeProto bias = written.producer(node.getInput(2)).orElseThrow();
                assertThat(bias.getOpType()).isEqualTo("DequantizeLinear");
                assertThat(written.tensor(bias.getInput(0)).dataType()).as("bias levels of %s", node.getName()).isEqualTo(DataType.INT32);
            }
        }
        for (Map<String, Object> layer : result.report().layers()) {
            assertThat(layer).containsKeys("activation", "activation_min", "activation_max", "activation_scale", "activation_zero_point",
                    "output_scale");
            assertThat(((Number) layer.get("activation_scale")).doubleValue()).isPositive();
        }
        return layers;
    }

    /** Binary channels hold exactly +-alpha (both when the weights have both signs), ternary ones at most {-alpha, 0, +alpha}. */
    private static void checkLevels(OnnxModel original, OnnxModel written, TechniqueResult result, String techniqueId) {
        boolean ternary = techniqueId.equals("ternarize");
        for (Map<String, Object> layer : result.report().layers()) {
            int bases = ((Number) layer.get("bases")).intValue();
            for (int basis = 0; basis < bases; basis++) {
                WrittenLevels read = WrittenLevels.read(original, written, layer, ternary ? "ternary" : "binary", bases == 1 ? -1 : basis);
                int channels = read.layout().channels();
                List<Set<Float>> values = new ArrayList<>();
                List<Set<Boolean>> signs = new ArrayList<>();
                for (int c = 0; c < channels; c++) {
                    values.add(new HashSet<>());
                    signs.add(new HashSet<>());
                }
                for (int j = 0; j < read.levels().length; j++) {
                    int c = read.channel(j);
                    values.get(c).add(read.levels()[j] * read.scales()[c]);
                    signs.get(c).add(read.levels()[j] > 0);
                    assertThat(read.levels()[j]).as("level %d of %s", j, layer.get("weight")).isIn(ternary ? new Float[] {-1f, 0f, 1f}
                            : new Float[] {-1f, 1f});
                }
                for (int c = 0; c < channels; c++) {
                    float alpha = read.scales()[c];
                    if (ternary) {
                        assertThat(values.get(c)).as("values of channel %d of %s", c, layer.get("weight")).isSubsetOf(-alpha, 0f, alpha);
                    } else {
                        assertThat(values.get(c)).as("values of channel %d of basis %d of %s", c, basis, layer.get("weight"))
                                .isSubsetOf(-alpha, alpha).hasSize(signs.get(c).size());
                        if (bases == 1) {
                            assertThat(values.get(c)).as("a BWN channel of %s holds exactly two values", layer.get("weight")).hasSize(2);
                        }
                    }
                }
            }
        }
    }

    @ParameterizedTest(name = "calibration={0}")
    @CsvSource({"minmax", "percentile", "entropy", "mse"})
    void everyCalibrationMethodOfTheQuantizationFamilyRuns(String method) {
        String name = "pytorch_cnn_mnist.onnx";
        OnnxModel original = OnnxModel.load(SharedData.model(name));
        Dataset digits = Models.digitsFor(name);
        TechniqueResult result = Models.apply(new BinarizeTechnique(), original,
                Map.of("activations", "8", "calibration", method, "calibration_samples", "100", "symmetric", "true"), digits,
                Models.calibrationDigitsFor(name, CALIBRATION_DIGITS));
        EvaluationResult fresh = Evaluators.fromServiceLoader().compare(original, OnnxModel.fromBytes(result.model().toBytes()),
                EvaluationRequest.of(digits, Models.DIGITS));
        System.out.printf("binarize bwn activations=8 symmetric=true calibration=%s on %s: accuracy %.4f -> %.4f, output SQNR %.2f dB%n",
                method, name, fresh.accuracyBefore().orElseThrow(), fresh.accuracyAfter().orElseThrow(),
                (double) result.report().get("output_sqnr_db"));
        for (Map<String, Object> layer : result.report().layers()) {
            System.out.printf("  %s activation %s: seen [%.2f, %.2f], range [%.2f, %.2f]; output range scale %s%n", layer.get("weight"),
                    layer.get("activation"), layer.get("activation_seen_min"), layer.get("activation_seen_max"), layer.get("activation_min"),
                    layer.get("activation_max"), layer.get("output_scale"));
        }
        assertThat(result.report().get("calibration")).isEqualTo(method);
        assertThat(result.report().get("calibration_samples")).isEqualTo(100);
        assertThat(result.report().get("activation_type")).isEqualTo("int8");
        assertThat(result.report().layers()).allSatisfy(layer -> assertThat(layer.get("activation_zero_point")).isEqualTo(0));
        assertThat(fresh.accuracyAfter().orElseThrow()).as("well above chance (0.1)").isGreaterThan(0.85);
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource({"binarize", "ternarize"})
    void int8ActivationsWithoutCalibrationDataAreRefused(String techniqueId) {
        OnnxModel model = OnnxModel.load(SharedData.model("pytorch_cnn_mnist.onnx"));
        CondenseException error = catchThrowableOfType(CondenseException.class,
                () -> Models.apply(technique(techniqueId), model, Map.of("activations", "8"), null, null));
        assertThat(error.code()).isEqualTo(ErrorCode.DATA_REQUIRED);
        assertThat(error.getMessage()).contains(techniqueId + " with activations=8").contains("--calibration-data");
    }

    @ParameterizedTest(name = "{0} {1}")
    @CsvSource({
            "binarize, calibration=entropy, calibration",
            "ternarize, calibration=entropy, calibration",
            "binarize, activations=float;calibration=minmax, calibration",
            "binarize, symmetric=true, symmetric",
            "ternarize, percentile=99.9, percentile",
            "binarize, calibration_samples=50, calibration_samples"})
    void calibrationOptionsWithoutInt8ActivationsAreRefused(String techniqueId, String settings, String parameter) {
        OnnxModel model = OnnxModel.load(SharedData.model("pytorch_cnn_mnist.onnx"));
        InvalidParametersException error = catchThrowableOfType(InvalidParametersException.class,
                () -> Models.apply(technique(techniqueId), model, values(settings), null, Models.calibrationDigitsFor("pytorch_cnn_mnist.onnx", 10)));
        assertThat(error.code()).isEqualTo(ErrorCode.INVALID_PARAMETER);
        assertThat(error.problems()).extracting(ParameterProblem::parameter).containsExactly(parameter);
        assertThat(error.getMessage()).contains(parameter).contains("activations=8 only");
    }

    @Test
    void basesGivenWithAnotherMethodIsRefusedEvenAtItsDefault() {
        OnnxModel model = OnnxModel.load(SharedData.model("pytorch_cnn_mnist.onnx"));
        InvalidParametersException error = catchThrowableOfType(InvalidParametersException.class,
                () -> Models.apply(new BinarizeTechnique(), model, Map.of("method", "bwn", "bases", "3", "order", "2"), null, null));
        assertThat(error.problems()).extracting(ParameterProblem::parameter).containsExactly("bases", "order");
    }

    @Test
    void int8ActivationsLeaveTheLowBitWeightsAsWeightOnlyWritesThem() {
        // the weight-only and the A8 model agree on which weights changed and how: only the activations differ
        OnnxModel original = OnnxModel.load(SharedData.model("pytorch_cnn_mnist.onnx"));
        TechniqueResult weightOnly = Models.apply(new TernarizeTechnique(), original, Map.of(), null, null);
        TechniqueResult result = Models.apply(new TernarizeTechnique(), original, Map.of("activations", "8"), null,
                Models.calibrationDigitsFor("pytorch_cnn_mnist.onnx", 50));
        for (Map<String, Object> layer : weightOnly.report().layers()) {
            String levels = layer.get("weight") + "_ternary";
            assertThat(result.model().tensor(levels).toFloatArray()).isEqualTo(weightOnly.model().tensor(levels).toFloatArray());
        }
        assertThat((double) result.report().get("relative_error")).isCloseTo((double) weightOnly.report().get("relative_error"), within(0.0));
    }
}
