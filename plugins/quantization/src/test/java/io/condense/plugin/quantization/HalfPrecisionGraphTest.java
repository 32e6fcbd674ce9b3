package io.condense.plugin.quantization;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import io.condense.sdk.eval.EvaluationRequest;
import io.condense.sdk.eval.EvaluationResult;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.technique.InvalidParametersException;
import io.condense.sdk.technique.TechniqueResult;
import io.condense.sdk.testkit.Evaluators;
import io.condense.sdk.testkit.SharedData;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

/** {@code dtype=fp16, scope=graph}: the whole graph in float16 with float32 inputs and outputs. */
class HalfPrecisionGraphTest {
    private static final int DIGITS = 1000;

    @ParameterizedTest
    @ValueSource(strings = {"mnist8/model.onnx", "pytorch_cnn_mnist.onnx"})
    void mnistModelsInFloat16StayWithinATenthOfAPoint(String name) {
        OnnxModel original = OnnxModel.load(SharedData.model(name));
        TechniqueResult result = QuantizeTechniqueTest.quantize(original, Map.of("dtype", "fp16", "scope", "graph"));
        OnnxModel converted = OnnxModel.fromBytes(result.model().toBytes());
        assertFloat32Interface(original, converted);
        long halfInitializers = converted.graph().getInitializerList().stream()
                .filter(tensor -> tensor.getDataType() == TensorProto.DataType.FLOAT16_VALUE).count();
        assertThat(halfInitializers).isPositive();
        EvaluationResult comparison = Evaluators.fromServiceLoader().compare(original, converted,
                EvaluationRequest.of(SharedData.mnistDigits(DIGITS, StaticActivationQuantizationTest.scaleFor(name)), DIGITS));
        System.out.printf("quantize fp16 graph %s: accuracy %s -> %s, agreement %.4f, output SQNR %.2f dB, report %s%n", name,
                comparison.accuracyBefore(), comparison.accuracyAfter(), comparison.top1Agreement(), comparison.sqnrDb(),
                result.report().toJson());
        assertThat(Math.abs(comparison.accuracyBefore().orElseThrow() - comparison.accuracyAfter().orElseThrow())).isLessThanOrEqualTo(0.001);
        assertThat((int) result.report().get("nodes_fp16")).isPositive();
        assertThat((long) result.report().get("model_bytes_after")).isLessThan((long) result.report().get("model_bytes_before") * 6 / 10);
    }

    @Test
    void ultraFaceInFloat16KeepsItsDetections() throws Exception {
        OnnxModel original = OnnxModel.load(SharedData.model("ultraface/version-RFB-320.onnx"));
        TechniqueResult result = QuantizeTechniqueTest.quantize(original, Map.of("dtype", "fp16", "scope", "graph"));
        OnnxModel converted = OnnxModel.fromBytes(result.model().toBytes());
        assertFloat32Interface(original, converted);
        System.out.println("quantize fp16 graph UltraFace RFB-320: " + result.report().toJson());
        Int8StaticFeaturesTest.assertDetectionsAgree(original, converted, QuantizeTechniqueTest.photos(), "fp16 graph");
        assertThat(converted.nodes()).filteredOn(node -> node.getOpType().equals("Conv")).hasSize(52);
    }

    @Test
    void aGraphOutputAlsoReadInsideTheGraphKeepsBothTypesRight() {
        // x -> Conv -> y (graph output) -> Add(y, y) -> z (graph output): y is float16 inside, float32 outside
        ai.onnx.proto.OnnxMl.TypeProto.Tensor.Builder tensorType = ai.onnx.proto.OnnxMl.TypeProto.Tensor.newBuilder().setElemType(1);
        for (long dim : new long[] {1, 2, 3, 3}) {
            tensorType.getShapeBuilder().addDimBuilder().setDimValue(dim);
        }
        ai.onnx.proto.OnnxMl.TypeProto type = ai.onnx.proto.OnnxMl.TypeProto.newBuilder().setTensorType(tensorType).build();
        float[] weights = {0.5f, -1.25f, 2f, 0.75f};
        var graph = ai.onnx.proto.OnnxMl.GraphProto.newBuilder().setName("g")
                .addInput(ValueInfoProto.newBuilder().setName("x").setType(type))
                .addOutput(ValueInfoProto.newBuilder().setName("y").setType(type))
                .addOutput(ValueInfoProto.newBuilder().setName("z").setType(type))
                .addInitializer(io.condense.sdk.tensor.Tensor.fromFloats("w", io.condense.sdk.tensor.DataType.FLOAT, new long[] {2, 2, 1, 1},
                        weights).toProto())
                .addNode(ai.onnx.proto.OnnxMl.NodeProto.newBuilder().setOpType("Conv").setName("conv").addInput("x").addInput("w").addOutput("y"))
                .addNode(ai.onnx.proto.OnnxMl.NodeProto.newBuilder().setOpType("Add").setName("add").addInput("y").addInput("y").addOutput("z"));
        OnnxModel original = OnnxModel.of(ai.onnx.proto.OnnxMl.ModelProto.newBuilder().setIrVersion(7).setGraph(graph)
                .addOpsetImport(ai.onnx.proto.OnnxMl.OperatorSetIdProto.newBuilder().setVersion(13)).build());
        TechniqueResult result = QuantizeTechniqueTest.quantize(original, Map.of("dtype", "fp16", "scope", "graph"));
        OnnxModel converted = OnnxModel.fromBytes(result.model().toBytes());
        assertFloat32Interface(original, converted);
        float[] input = new float[18];
        for (int i = 0; i < input.length; i++) {
            input[i] = i * 0.25f - 2;
        }
        io.condense.sdk.data.NdArray feed = io.condense.sdk.data.NdArray.ofFloats(new long[] {1, 2, 3, 3}, input);
        var evaluator = Evaluators.fromServiceLoader();
        try (var before = evaluator.open(original); var after = evaluator.open(converted)) {
            Map<String, io.condense.sdk.data.NdArray> expected = before.run(Map.of("x", feed));
            Map<String, io.condense.sdk.data.NdArray> actual = after.run(Map.of("x", feed));
            for (String output : new String[] {"y", "z"}) {
                assertThat(actual.get(output).dataType()).isEqualTo(io.condense.sdk.tensor.DataType.FLOAT);
                float[] a = expected.get(output).toFloatArray();
                float[] b = actual.get(output).toFloatArray();
                for (int i = 0; i < a.length; i++) {
                    assertThat(b[i]).as("%s[%d]", output, i).isCloseTo(a[i], org.assertj.core.data.Offset.offset(Math.abs(a[i]) * 2e-3f + 1e-3f));
                }
            }
        }
        assertThat(result.report().get("nodes_fp16")).isEqualTo(2);
    }

    @Test
    void graphScopeIsOnlyForFloat16() {
        OnnxModel original = OnnxModel.load(SharedData.model("pytorch_cnn_mnist.onnx"));
        InvalidParametersException error = catchThrowableOfType(InvalidParametersException.class,
                () -> QuantizeTechniqueTest.quantize(original, Map.of("dtype", "bf16", "scope", "graph")));
        assertThat(error.getMessage()).contains("scope").contains("dtype=fp16");
        InvalidParametersException excluded = catchThrowableOfType(InvalidParametersException.class,
                () -> QuantizeTechniqueTest.quantize(original, Map.of("dtype", "fp16", "scope", "graph", "exclude", "conv1")));
        assertThat(excluded.getMessage()).contains("exclude").contains("scope=weights");
    }

    private static void assertFloat32Interface(OnnxModel original, OnnxModel converted) {
        assertThat(converted.inputs()).extracting(ValueInfoProto::getName).containsExactlyElementsOf(
                original.inputs().stream().map(ValueInfoProto::getName).filter(name -> !original.isInitializer(name)).toList());
        for (ValueInfoProto value : converted.inputs()) {
            assertThat(value.getType().getTensorType().getElemType()).isEqualTo(TensorProto.DataType.FLOAT_VALUE);
        }
        for (ValueInfoProto value : converted.outputs()) {
            assertThat(value.getType().getTensorType().getElemType()).isEqualTo(TensorProto.DataType.FLOAT_VALUE);
        }
    }
}
