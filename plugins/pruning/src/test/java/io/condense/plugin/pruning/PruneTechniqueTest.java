package io.condense.plugin.pruning;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.OperatorSetIdProto;
import ai.onnx.proto.OnnxMl.TensorShapeProto;
import ai.onnx.proto.OnnxMl.TypeProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import io.condense.sdk.data.Dataset;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.eval.EvaluationRequest;
import io.condense.sdk.eval.EvaluationResult;
import io.condense.sdk.eval.Evaluator;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.sparsity.MagnitudeMasks;
import io.condense.sdk.technique.Parameters;
import io.condense.sdk.technique.TechniqueResult;
import io.condense.sdk.tensor.DataType;
import io.condense.sdk.tensor.Tensor;
import io.condense.sdk.testkit.Evaluators;
import io.condense.sdk.testkit.SharedData;
import io.condense.sdk.testkit.TestStepContext;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class PruneTechniqueTest {
    private static final int DIGITS = 1000;

    private final PruneTechnique technique = new PruneTechnique();

    static TechniqueResult prune(OnnxModel model, Map<String, String> values) {
        PruneTechnique technique = new PruneTechnique();
        Parameters parameters = Parameters.validate(technique.descriptor().parameters(), values);
        try (TestStepContext context = TestStepContext.builder().technique(technique, values).build()) {
            return technique.apply(model, parameters, context);
        }
    }

    static Dataset digitsFor(String model) {
        return SharedData.mnistDigits(DIGITS, model.startsWith("mnist8") ? 1f / 255 : 1f);
    }

    /** Zeros over the weights the report says were pruned, counted in the written model itself. */
    static double measuredSparsity(OnnxModel pruned, TechniqueResult result) {
        long elements = 0;
        long nonZeros = 0;
        for (Map<String, Object> layer : result.report().layers()) {
            var tensor = pruned.tensor((String) layer.get("weight"));
            elements += tensor.elementCount();
            nonZeros += tensor.countNonZero();
        }
        return 1.0 - (double) nonZeros / elements;
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource({"mnist8/model.onnx", "pytorch_cnn_mnist.onnx"})
    void halfSparsityPerLayerKeepsAgreementAndReachesTheTarget(String name) {
        Path file = SharedData.model(name);
        OnnxModel original = OnnxModel.load(file);
        TechniqueResult result = prune(original, Map.of("sparsity", "0.5", "scope", "layer"));
        OnnxModel pruned = OnnxModel.fromBytes(result.model().toBytes());

        Evaluator evaluator = Evaluators.fromServiceLoader();
        EvaluationResult comparison = evaluator.compare(original, pruned, EvaluationRequest.of(digitsFor(name), DIGITS));
        System.out.printf("prune 0.5 scope=layer %s: agreement %.4f, accuracy %s -> %s, sparsity %.4f, file %d -> %d bytes%n", name,
                comparison.top1Agreement(), comparison.accuracyBefore(), comparison.accuracyAfter(),
                (double) result.report().get("sparsity"), original.serializedSize(), pruned.serializedSize());
        System.out.println(result.report().toJson());

        assertThat(comparison.samples()).isEqualTo(DIGITS);
        assertThat(comparison.top1Agreement()).as("top-1 agreement of %s pruned to 50%%", name).isGreaterThanOrEqualTo(0.98);
        double sparsity = measuredSparsity(pruned, result);
        assertThat(sparsity).as("sparsity measured in the pruned weights of %s", name).isGreaterThanOrEqualTo(0.4995);
        assertThat((double) result.report().get("sparsity")).isCloseTo(sparsity, org.assertj.core.data.Offset.offset(1e-9));
        // At 50% an ONNX sparse tensor (4-byte value + 8-byte int64 index per non-zero: 6 bytes a weight) is larger
        // than dense (4), so the weights stay dense and the file keeps its size (a few bytes of metadata aside).
        assertThat(result.report().layers()).allSatisfy(layer -> assertThat(layer.get("stored")).isEqualTo("dense"));
        assertThat(pruned.serializedSize()).as("file size of %s pruned to 50%%", name).isLessThanOrEqualTo(original.serializedSize() + 16);
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource({"mnist8/model.onnx", "pytorch_cnn_mnist.onnx"})
    void highSparsityIsStoredSparseAndTheFileShrinks(String name) {
        OnnxModel original = OnnxModel.load(SharedData.model(name));
        TechniqueResult result = prune(original, Map.of("sparsity", "0.8", "scope", "global"));
        OnnxModel pruned = OnnxModel.fromBytes(result.model().toBytes());

        EvaluationResult comparison = Evaluators.fromServiceLoader().compare(original, pruned,
                EvaluationRequest.of(digitsFor(name), DIGITS));
        double ratio = (double) pruned.serializedSize() / original.serializedSize();
        System.out.printf("prune 0.8 global %s: agreement %.4f, accuracy %s -> %s, file %d -> %d bytes (%.3fx)%n", name,
                comparison.top1Agreement(), comparison.accuracyBefore(), comparison.accuracyAfter(),
                original.serializedSize(), pruned.serializedSize(), ratio);

        assertThat(pruned.graph().getSparseInitializerCount()).as("sparse initializers in %s", name).isPositive();
        assertThat(result.report().layers()).anySatisfy(layer -> assertThat(layer.get("stored")).isEqualTo("sparse"));
        assertThat(ratio).as("file size ratio of %s pruned to 80%%", name).isLessThan(0.65);
        assertThat(measuredSparsity(pruned, result)).isGreaterThanOrEqualTo(0.7995);
        // without fine-tuning; measured 0.956 (mnist8) and 0.972 (pytorch_cnn_mnist)
        assertThat(comparison.top1Agreement()).as("top-1 agreement of %s pruned to 80%% (global)", name).isGreaterThanOrEqualTo(0.94);
    }

    @ParameterizedTest(name = "{0} scope {1}")
    @CsvSource({"pytorch_cnn_mnist.onnx, layer", "pytorch_cnn_mnist.onnx, global", "mnist8/model.onnx, layer",
            "mnist8/model.onnx, global", "ultraface/version-RFB-320.onnx, global"})
    void bothScopesReachTheTargetOverall(String name, String scope) {
        OnnxModel original = OnnxModel.load(SharedData.model(name));
        TechniqueResult result = prune(original, Map.of("sparsity", "0.6", "scope", scope));
        double sparsity = measuredSparsity(result.model(), result);
        System.out.printf("prune 0.6 %s scope %s: sparsity %.5f, per layer %s%n", name, scope, sparsity,
                result.report().layers().stream().map(layer -> String.format("%.3f", (double) layer.get("sparsity"))).toList());
        assertThat(sparsity).as("overall sparsity of %s with scope %s", name, scope).isCloseTo(0.6, org.assertj.core.data.Offset.offset(0.001));
        if (scope.equals("layer")) {
            assertThat(result.report().layers()).allSatisfy(layer ->
                    assertThat((double) layer.get("sparsity")).isCloseTo(0.6, org.assertj.core.data.Offset.offset(0.005)));
        } else {
            assertThat(result.report().get("threshold")).isInstanceOf(Double.class);
        }
    }

    @Test
    void globalScopePrunesLayersUnevenly() {
        OnnxModel original = OnnxModel.load(SharedData.model("pytorch_cnn_mnist.onnx"));
        TechniqueResult result = prune(original, Map.of("sparsity", "0.7", "scope", "global", "min_elements", "0"));
        List<Double> sparsities = result.report().layers().stream().map(layer -> (double) layer.get("sparsity")).toList();
        assertThat(sparsities.stream().mapToDouble(Double::doubleValue).max().orElseThrow()
                - sparsities.stream().mapToDouble(Double::doubleValue).min().orElseThrow())
                .as("spread of per-layer sparsity under one global threshold: %s", sparsities).isGreaterThan(0.05);
    }

    @Test
    void excludedAndSmallLayersAreLeftAlone() {
        OnnxModel original = OnnxModel.load(SharedData.model("pytorch_cnn_mnist.onnx"));
        TechniqueResult result = prune(original, Map.of("sparsity", "0.5", "exclude", "fc2*, regex:conv2\\..*"));
        List<String> pruned = result.report().layers().stream().map(layer -> (String) layer.get("weight")).toList();
        assertThat(pruned).containsExactly("fc1.weight");
        @SuppressWarnings("unchecked")
        List<Map<String, Object>> skipped = (List<Map<String, Object>>) result.report().get("skipped");
        assertThat(skipped).extracting(entry -> entry.get("weight") + ": " + entry.get("reason")).containsExactlyInAnyOrder(
                "conv1.weight: it has 250 weights, fewer than min_elements=256",
                "conv2.weight: excluded by pattern 'regex:conv2\\..*'",
                "fc2.weight: excluded by pattern 'fc2*'");
        assertThat(result.model().tensor("fc2.weight").countNonZero()).isEqualTo(500);
    }

    @Test
    void foldsTheReshapedMatMulWeightOfMnist8() {
        OnnxModel original = OnnxModel.load(SharedData.model("mnist8/model.onnx"));
        TechniqueResult result = prune(original, Map.of("sparsity", "0.5", "min_elements", "0"));
        assertThat(result.report().get("folded_reshapes")).isEqualTo(1);
        assertThat(result.report().layers()).extracting(layer -> layer.get("op")).containsExactlyInAnyOrder("Conv", "Conv", "MatMul");
    }

    @Test
    void modelWithNothingToPruneIsRefusedNamingWhatItHas() {
        OnnxModel model = OnnxModel.load(SharedData.model("skl_lr_mnist.onnx"));
        CondenseException error = catchThrowableOfType(CondenseException.class, () -> prune(model, Map.of()));
        assertThat(error.code()).isEqualTo(ErrorCode.NOTHING_TO_COMPRESS);
        assertThat(error.getMessage()).contains("no Conv, Gemm or MatMul").contains("LinearClassifier").contains("ai.onnx.ml")
                .contains("ZipMap");
    }

    @Test
    void everyLayerSkippedIsRefusedWithTheReasons() {
        OnnxModel model = OnnxModel.load(SharedData.model("pytorch_cnn_mnist.onnx"));
        CondenseException error = catchThrowableOfType(CondenseException.class, () -> prune(model, Map.of("exclude", "*")));
        assertThat(error.code()).isEqualTo(ErrorCode.NOTHING_TO_COMPRESS);
        assertThat(error.getMessage()).contains("all 4 weight layers were skipped").contains("excluded by pattern '*'");
    }

    @Test
    void cancellationStopsBetweenLayers() {
        OnnxModel model = OnnxModel.load(SharedData.model("pytorch_cnn_mnist.onnx"));
        Map<String, String> values = Map.of("sparsity", "0.5");
        Parameters parameters = Parameters.validate(technique.descriptor().parameters(), values);
        try (TestStepContext context = TestStepContext.builder().technique(technique, values).cancelAfterProgressEvents(2).build()) {
            CondenseException error = catchThrowableOfType(CondenseException.class, () -> technique.apply(model, parameters, context));
            assertThat(error.code()).isEqualTo(ErrorCode.CANCELLED);
        }
    }

    /**
     * A model of over 4 M weights in several layers is pruned layer by layer in parallel (PARALLEL_ELEMENTS): every layer holds
     * what the sequential magnitude mask of its own weights gives, dense at 0.5 and stored sparse at 0.9, in the model's order.
     */
    @ParameterizedTest(name = "sparsity {0}")
    @CsvSource({"0.5", "0.9"})
    void layersOfALargeModelPrunedInParallelHoldTheirOwnMasks(double sparsity) {
        // x [1, 1024] -> Gemm 1024-2048 -> Relu -> Gemm 2048-1536 -> Relu -> Gemm 1536-1024: 6.3 M weights, no BatchNormalization
        Random random = new Random(3);
        int[] widths = {1024, 2048, 1536, 1024};
        GraphProto.Builder graph = GraphProto.newBuilder().setName("wide_mlp");
        String x = "x";
        for (int layer = 0; layer < 3; layer++) {
            float[] values = new float[widths[layer] * widths[layer + 1]];
            for (int i = 0; i < values.length; i++) {
                values[i] = (float) random.nextGaussian();
            }
            String weight = "fc" + layer + ".weight";
            graph.addInitializer(Tensor.fromFloats(weight, DataType.FLOAT,
                    new long[] {widths[layer], widths[layer + 1]}, values).toProto());
            String y = layer == 2 ? "y" : "h" + layer;
            graph.addNode(NodeProto.newBuilder().setOpType("Gemm").setName("fc" + layer).addInput(x).addInput(weight)
                    .addOutput(layer == 2 ? y : y + "_linear"));
            if (layer < 2) {
                graph.addNode(NodeProto.newBuilder().setOpType("Relu").setName("relu" + layer).addInput(y + "_linear")
                        .addOutput(y));
            }
            x = y;
        }
        graph.addInput(vector("x", widths[0])).addOutput(vector("y", widths[3]));
        OnnxModel model = OnnxModel.of(ModelProto.newBuilder().setIrVersion(8).setGraph(graph)
                .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(13)).build());
        Map<String, String> values = Map.of("sparsity", Double.toString(sparsity), "scope", "layer");
        TechniqueResult result;
        try (TestStepContext context = TestStepContext.builder().technique(technique, values).withoutEvaluator().build()) {
            result = technique.apply(model, Parameters.validate(technique.descriptor().parameters(), values), context);
        }
        assertThat(result.report().layers()).hasSize(3);
        OnnxModel pruned = OnnxModel.fromBytes(result.model().toBytes());
        for (Map<String, Object> layer : result.report().layers()) {
            String weight = (String) layer.get("weight");
            float[] expected = MagnitudeMasks.magnitude(model.tensor(weight).toFloatArray(), sparsity);
            // Arrays.equals: AssertJ's element diff of two 3 M-element arrays would take minutes on a mismatch
            assertThat(Arrays.equals(pruned.tensor(weight).toFloatArray(), expected)).as(weight).isTrue();
        }
        assertThat(pruned.graph().getSparseInitializerCount()).isEqualTo(sparsity == 0.9 ? 3 : 0);
    }

    private static ValueInfoProto vector(String name, int width) {
        TensorShapeProto shape = TensorShapeProto.newBuilder()
                .addDim(TensorShapeProto.Dimension.newBuilder().setDimValue(1))
                .addDim(TensorShapeProto.Dimension.newBuilder().setDimValue(width)).build();
        return ValueInfoProto.newBuilder().setName(name).setType(TypeProto.newBuilder()
                .setTensorType(TypeProto.Tensor.newBuilder().setElemType(1).setShape(shape))).build();
    }

    @Test
    void zeroSparsityChangesNoWeight() {
        OnnxModel original = OnnxModel.load(SharedData.model("pytorch_cnn_mnist.onnx"));
        TechniqueResult result = prune(original, Map.of("sparsity", "0"));
        for (Map<String, Object> layer : result.report().layers()) {
            String weight = (String) layer.get("weight");
            assertThat(result.model().tensor(weight).toFloatArray()).containsExactly(original.tensor(weight).toFloatArray());
        }
    }

    @Test
    void denseStorageIsKeptWhenAsked() {
        OnnxModel original = OnnxModel.load(SharedData.model("pytorch_cnn_mnist.onnx"));
        TechniqueResult result = prune(original, Map.of("sparsity", "0.9", "storage", "dense"));
        assertThat(result.model().graph().getSparseInitializerCount()).isZero();
        assertThat(result.report().layers()).allSatisfy(layer -> assertThat(layer.get("stored")).isEqualTo("dense"));
        assertThat(measuredSparsity(result.model(), result)).isGreaterThanOrEqualTo(0.8995);
    }

    @Test
    void prunedModelWithSparseWeightsCanBePrunedFurther() {
        String name = "pytorch_cnn_mnist.onnx";
        OnnxModel original = OnnxModel.load(SharedData.model(name));
        OnnxModel once = OnnxModel.fromBytes(prune(original, Map.of("sparsity", "0.7", "scope", "global")).model().toBytes());
        assertThat(once.graph().getSparseInitializerCount()).isPositive();
        TechniqueResult twice = prune(once, Map.of("sparsity", "0.8", "scope", "global"));
        assertThat(measuredSparsity(twice.model(), twice)).isCloseTo(0.8, org.assertj.core.data.Offset.offset(0.001));
        EvaluationResult comparison = Evaluators.fromServiceLoader().compare(original, twice.model(),
                EvaluationRequest.of(digitsFor(name), DIGITS));
        assertThat(comparison.top1Agreement()).isGreaterThanOrEqualTo(0.94);
    }

    @Test
    void sparseAndDenseStorageHoldTheSameWeightsAndBothRun() {
        OnnxModel original = OnnxModel.load(SharedData.model("mnist8/model.onnx"));
        for (String scope : new String[] {"layer", "global"}) {
            OnnxModel sparse = OnnxModel.fromBytes(prune(original, Map.of("sparsity", "0.9", "scope", scope)).model().toBytes());
            TechniqueResult denseResult = prune(original, Map.of("sparsity", "0.9", "scope", scope, "storage", "dense"));
            assertThat(sparse.graph().getSparseInitializerCount()).as("sparse weights with scope %s", scope).isPositive();
            for (Map<String, Object> layer : denseResult.report().layers()) {
                String weight = (String) layer.get("weight");
                assertThat(sparse.tensor(weight).toFloatArray()).as("weight %s with scope %s", weight, scope)
                        .containsExactly(denseResult.model().tensor(weight).toFloatArray());
            }
            EvaluationResult comparison = Evaluators.fromServiceLoader().compare(denseResult.model(), sparse,
                    EvaluationRequest.of(digitsFor("mnist8"), 100));
            assertThat(comparison.top1Agreement()).as("sparse and dense storage compute the same, scope %s", scope).isEqualTo(1.0);
        }
    }

    @Test
    void theDefaultScopeIsOneGlobalThresholdAndAPatternStaysPerLayer() {
        OnnxModel original = OnnxModel.load(SharedData.model("pytorch_cnn_mnist.onnx"));
        TechniqueResult byDefault = prune(original, Map.of("sparsity", "0.5"));
        TechniqueResult global = prune(original, Map.of("sparsity", "0.5", "scope", "global"));
        TechniqueResult perLayer = prune(original, Map.of("sparsity", "0.5", "scope", "layer"));
        assertThat(byDefault.report().get("scope")).isEqualTo("global");
        assertThat(byDefault.report().get("threshold")).isEqualTo(global.report().get("threshold"));
        assertThat(byDefault.model().toBytes()).isEqualTo(global.model().toBytes());
        assertThat(byDefault.model().toBytes()).isNotEqualTo(perLayer.model().toBytes());
        // one threshold: the layers end at different sparsities (the protected conv1, under min_elements, is not among them)
        List<Double> sparsities = byDefault.report().layers().stream().map(layer -> (double) layer.get("sparsity")).toList();
        assertThat(sparsities.stream().mapToDouble(Double::doubleValue).max().orElseThrow()
                - sparsities.stream().mapToDouble(Double::doubleValue).min().orElseThrow()).as("per-layer sparsities %s", sparsities)
                .isGreaterThan(0.05);
        assertThat(byDefault.report().layers()).extracting(layer -> layer.get("weight")).doesNotContain("conv1.weight");

        // 2:4 with the default scope prunes every layer by its pattern, as with scope=layer
        TechniqueResult pattern = prune(original, Map.of("pattern", "2:4"));
        TechniqueResult patternPerLayer = prune(original, Map.of("pattern", "2:4", "scope", "layer"));
        assertThat(pattern.report().get("scope")).isEqualTo("layer");
        assertThat(pattern.model().toBytes()).isEqualTo(patternPerLayer.model().toBytes());
    }
}
