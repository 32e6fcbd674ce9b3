package io.condense.plugin.binarization;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import ai.onnx.proto.OnnxMl.NodeProto;
import io.condense.sdk.data.Dataset;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.eval.EvaluationRequest;
import io.condense.sdk.eval.EvaluationResult;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.technique.InvalidParametersException;
import io.condense.sdk.technique.ParameterProblem;
import io.condense.sdk.technique.Parameters;
import io.condense.sdk.technique.TechniqueResult;
import io.condense.sdk.tensor.ChannelLayout;
import io.condense.sdk.testkit.Evaluators;
import io.condense.sdk.testkit.SharedData;
import io.condense.sdk.testkit.TestStepContext;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class BinarizeTechniqueTest {

    private static TechniqueResult binarize(OnnxModel model, Map<String, String> values) {
        return Models.apply(new BinarizeTechnique(), model, values);
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource({"mnist8/model.onnx", "pytorch_cnn_mnist.onnx"})
    void everyBinarizedChannelHoldsExactlyPlusAndMinusItsMeanMagnitude(String name) throws Exception {
        OnnxModel original = OnnxModel.load(SharedData.model(name));
        TechniqueResult result = binarize(original, Map.of("method", "bwn", "keep_first_last", "false"));
        OnnxModel written = OnnxModel.fromBytes(result.model().toBytes());
        assertThat(result.report().layers()).hasSize(name.startsWith("mnist8") ? 3 : 4);
        for (Map<String, Object> layer : result.report().layers()) {
            WrittenLevels read = WrittenLevels.read(original, written, layer, "binary", -1);
            ChannelLayout layout = read.layout();
            double[] magnitudes = new double[layout.channels()];
            List<Set<Float>> values = new java.util.ArrayList<>();
            List<Set<Boolean>> signs = new java.util.ArrayList<>();
            for (int c = 0; c < layout.channels(); c++) {
                values.add(new HashSet<>());
                signs.add(new HashSet<>());
            }
            for (int j = 0; j < read.levels().length; j++) {
                int c = read.channel(j);
                assertThat(read.levels()[j]).as("level %d of %s", j, layer.get("weight")).isIn(-1f, 1f);
                values.get(c).add(read.levels()[j] * read.scales()[c]);
                signs.get(c).add(read.original()[j] >= 0);
                magnitudes[c] += Math.abs(read.original()[j]);
            }
            for (int c = 0; c < layout.channels(); c++) {
                float alpha = read.scales()[c];
                assertThat(alpha).as("alpha of channel %d of %s is mean |W|", c, layer.get("weight"))
                        .isEqualTo((float) (magnitudes[c] / layout.elementsPerChannel()));
                assertThat(values.get(c)).as("values of channel %d of %s", c, layer.get("weight"))
                        .isSubsetOf(alpha, -alpha).hasSize(signs.get(c).size());
            }
            // the level signs are the weight signs
            for (int j = 0; j < read.levels().length; j++) {
                assertThat(read.levels()[j] > 0).isEqualTo(read.original()[j] >= 0);
            }
        }
        Dataset digits = Models.digitsFor(name);
        EvaluationResult runs = Evaluators.fromServiceLoader().compare(original, written, EvaluationRequest.of(digits, 100));
        assertThat(runs.samples()).as("ONNX Runtime runs the binarized %s", name).isEqualTo(100);
        assertThat(written.opsetVersion("")).contains(13L);
    }

    @ParameterizedTest(name = "{0} bases/order {1}")
    @CsvSource({"abc, 3", "abc, 2", "horq, 2", "horq, 3"})
    void severalBasesAreBinaryEachAndTheirDequantizedSumFeedsTheLayer(String method, int bases) {
        OnnxModel original = OnnxModel.load(SharedData.model("pytorch_cnn_mnist.onnx"));
        Map<String, String> values = Map.of("method", method, method.equals("abc") ? "bases" : "order", Integer.toString(bases));
        TechniqueResult result = binarize(original, values);
        OnnxModel written = OnnxModel.fromBytes(result.model().toBytes());
        assertThat(result.report().get("bits_per_weight")).isEqualTo(bases);
        for (Map<String, Object> layer : result.report().layers()) {
            String weight = (String) layer.get("weight");
            float[] reconstruction = null;
            WrittenLevels read = null;
            for (int k = 0; k < bases; k++) {
                read = WrittenLevels.read(original, written, layer, "binary", k);
                if (reconstruction == null) {
                    reconstruction = new float[read.levels().length];
                }
                for (int j = 0; j < read.levels().length; j++) {
                    assertThat(read.levels()[j]).as("level %d of basis %d of %s", j, k, weight).isIn(-1f, 1f);
                    reconstruction[j] += read.levels()[j] * read.scales()[read.channel(j)];
                }
                for (float scale : read.scales()) {
                    assertThat(scale).isGreaterThanOrEqualTo(0f);
                }
            }
            NodeProto sum = written.producer(weight + "_reconstructed").orElseThrow();
            assertThat(sum.getOpType()).isEqualTo("Sum");
            assertThat(sum.getInputCount()).isEqualTo(bases);
            assertThat(written.consumers(weight + "_reconstructed")).extracting(NodeProto::getOpType).containsAnyOf("Conv", "Gemm");
            // the reported error is the error of what the written tensors hold
            double signal = 0;
            double noise = 0;
            for (int j = 0; j < reconstruction.length; j++) {
                double difference = read.original()[j] - reconstruction[j];
                signal += (double) read.original()[j] * read.original()[j];
                noise += difference * difference;
            }
            assertThat((double) layer.get("relative_error")).isCloseTo(Math.sqrt(noise / signal), org.assertj.core.api.Assertions.within(1e-6));
            long elements = ((Number) layer.get("elements")).longValue();
            long channels = ((Number) layer.get("channels")).longValue();
            assertThat(((Number) layer.get("packed_bits")).longValue()).isEqualTo(bases * elements + 32L * bases * channels);
        }
        assertThat(Evaluators.fromServiceLoader().compare(original, written,
                EvaluationRequest.of(Models.digitsFor("pytorch_cnn_mnist.onnx"), 50)).samples()).isEqualTo(50);
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource({"mnist8/model.onnx", "pytorch_cnn_mnist.onnx"})
    void severalBasesReconstructEveryLayerBetterThanOneBasis(String name) {
        OnnxModel original = OnnxModel.load(SharedData.model(name));
        Map<String, Double> binary = errors(binarize(original, Map.of("method", "bwn", "keep_first_last", "false")));
        Map<String, Double> bases = errors(binarize(original, Map.of("method", "abc", "bases", "3", "keep_first_last", "false")));
        Map<String, Double> residual = errors(binarize(original, Map.of("method", "horq", "order", "2", "keep_first_last", "false")));
        assertThat(bases.keySet()).isEqualTo(binary.keySet()).isEqualTo(residual.keySet());
        for (String layer : binary.keySet()) {
            System.out.printf("binarize %s layer %s: relative error bwn %.4f, abc(3) %.4f, horq(2) %.4f%n", name, layer, binary.get(layer),
                    bases.get(layer), residual.get(layer));
            assertThat(bases.get(layer)).as("abc error of %s below bwn", layer).isLessThan(binary.get(layer));
            assertThat(residual.get(layer)).as("horq error of %s below bwn", layer).isLessThan(binary.get(layer));
        }
    }

    private static Map<String, Double> errors(TechniqueResult result) {
        Map<String, Double> errors = new HashMap<>();
        for (Map<String, Object> layer : result.report().layers()) {
            errors.put((String) layer.get("name"), (Double) layer.get("relative_error"));
        }
        return errors;
    }

    @ParameterizedTest(name = "{0} {1}")
    @CsvSource({
            "mnist8/model.onnx, method=bwn",
            "mnist8/model.onnx, method=abc;bases=3",
            "mnist8/model.onnx, method=horq;order=2",
            "mnist8/model.onnx, method=bwn;keep_first_last=false",
            "pytorch_cnn_mnist.onnx, method=bwn",
            "pytorch_cnn_mnist.onnx, method=abc;bases=3",
            "pytorch_cnn_mnist.onnx, method=horq;order=2",
            "pytorch_cnn_mnist.onnx, method=bwn;keep_first_last=false",
            "pytorch_cnn_mnist.onnx, method=abc;bases=3;keep_first_last=false"})
    void accuracyWithoutFineTuningIsReportedAsMeasured(String name, String settings) {
        Accuracy.check(new BinarizeTechnique(), name, settings);
    }

    @Test
    void firstAndLastLayersStayFloatByDefault() {
        OnnxModel original = OnnxModel.load(SharedData.model("pytorch_cnn_mnist.onnx"));
        TechniqueResult result = binarize(original, Map.of());
        assertThat(result.report().layers()).extracting(layer -> layer.get("weight")).containsExactly("conv2.weight", "fc1.weight");
        assertThat(result.model().tensor("conv1.weight").dataType()).isEqualTo(io.condense.sdk.tensor.DataType.FLOAT);
        assertThat(result.model().tensor("fc2.weight").dataType()).isEqualTo(io.condense.sdk.tensor.DataType.FLOAT);
        @SuppressWarnings("unchecked")
        List<Map<String, Object>> skipped = (List<Map<String, Object>>) result.report().get("skipped");
        assertThat(skipped).extracting(entry -> entry.get("weight")).containsExactly("conv1.weight", "fc2.weight");
        assertThat(skipped).allSatisfy(entry -> assertThat((String) entry.get("reason")).contains("keep_first_last=true"));
    }

    @Test
    void excludedAndSmallLayersStayFloat() {
        OnnxModel original = OnnxModel.load(SharedData.model("pytorch_cnn_mnist.onnx"));
        TechniqueResult result = binarize(original, Map.of("exclude", "conv2.*", "min_elements", "600", "keep_first_last", "false"));
        // conv1 has 250 weights, fc2 500: both under min_elements; conv2 is excluded by name
        assertThat(result.report().layers()).extracting(layer -> layer.get("weight")).containsExactly("fc1.weight");
        @SuppressWarnings("unchecked")
        List<Map<String, Object>> skipped = (List<Map<String, Object>>) result.report().get("skipped");
        assertThat(skipped).extracting(entry -> entry.get("reason")).containsExactly(
                "it has 250 weights, fewer than min_elements=600",
                "excluded by pattern 'conv2.*'",
                "it has 500 weights, fewer than min_elements=600");
    }

    @Test
    void aDetectorKeepsItsStemAndEveryHeadInFloat() {
        OnnxModel original = OnnxModel.load(SharedData.model("ultraface/version-RFB-320.onnx"));
        TechniqueResult result = binarize(original, Map.of());
        @SuppressWarnings("unchecked")
        List<Map<String, Object>> skipped = (List<Map<String, Object>>) result.report().get("skipped");
        int layers = original.edit().foldConstantReshapes().build().weightLayers().size();
        System.out.printf("binarize UltraFace RFB-320: %d of %d weight layers binarized, kept in float: %s%n",
                result.report().layers().size(), layers, skipped.stream().map(entry -> entry.get("name")).toList());
        // one stem convolution, and a score and a box head at each of the four scales
        assertThat(skipped).hasSize(9);
        assertThat(result.report().layers()).hasSize(layers - 9);
    }

    @Test
    void zeroBasesIsAnInvalidParameter() {
        BinarizeTechnique technique = new BinarizeTechnique();
        InvalidParametersException error = catchThrowableOfType(InvalidParametersException.class,
                () -> Parameters.validate(technique.descriptor().parameters(), Map.of("method", "abc", "bases", "0")));
        assertThat(error.problems()).extracting(ParameterProblem::parameter).containsExactly("bases");
        assertThat(error.getMessage()).contains("bases").contains("[1, 8]");
    }

    @Test
    void basesWithAnotherMethodIsRefused() {
        OnnxModel model = OnnxModel.load(SharedData.model("pytorch_cnn_mnist.onnx"));
        InvalidParametersException error = catchThrowableOfType(InvalidParametersException.class,
                () -> binarize(model, Map.of("method", "horq", "bases", "5")));
        assertThat(error.getMessage()).contains("bases").contains("method=abc only");
    }

    @Test
    void aModelWithOnlyAFirstAndALastLayerIsNothingToCompressUnlessAskedFor() {
        OnnxModel model = Models.twoLayers();
        CondenseException error = catchThrowableOfType(CondenseException.class, () -> binarize(model, Map.of()));
        assertThat(error.code()).isEqualTo(ErrorCode.NOTHING_TO_COMPRESS);
        assertThat(error.getMessage()).contains("only weight layers (fc1, fc2) are its first and last").contains("keep_first_last=false");

        TechniqueResult result = binarize(model, Map.of("keep_first_last", "false"));
        assertThat(result.report().layers()).hasSize(2);
        assertThat(Evaluators.fromServiceLoader().compare(model, result.model(), EvaluationRequest.generated(3)).samples()).isEqualTo(3);
    }

    @Test
    void aModelWithoutWeightLayersIsNothingToCompress() {
        OnnxModel model = OnnxModel.load(SharedData.model("skl_lr_mnist.onnx"));
        CondenseException error = catchThrowableOfType(CondenseException.class, () -> binarize(model, Map.of()));
        assertThat(error.code()).isEqualTo(ErrorCode.NOTHING_TO_COMPRESS);
        assertThat(error.getMessage()).contains("no Conv, Gemm or MatMul").contains("LinearClassifier").contains("ai.onnx.ml");
    }

    @Test
    void cancellationStopsBetweenLayers() {
        BinarizeTechnique technique = new BinarizeTechnique();
        OnnxModel model = OnnxModel.load(SharedData.model("pytorch_cnn_mnist.onnx"));
        Parameters parameters = Parameters.validate(technique.descriptor().parameters(), Map.of());
        try (TestStepContext context = TestStepContext.builder().technique(technique, Map.of()).cancelled().build()) {
            CondenseException error = catchThrowableOfType(CondenseException.class, () -> technique.apply(model, parameters, context));
            assertThat(error.code()).isEqualTo(ErrorCode.CANCELLED);
        }
    }
}
