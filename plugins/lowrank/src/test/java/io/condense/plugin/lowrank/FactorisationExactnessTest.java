package io.condense.plugin.lowrank;

import static org.assertj.core.api.Assertions.assertThat;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.OperatorSetIdProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnx.proto.OnnxMl.TensorShapeProto;
import ai.onnx.proto.OnnxMl.TypeProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import io.condense.sdk.data.Dataset;
import io.condense.sdk.data.NdArray;
import io.condense.sdk.eval.EvaluationRequest;
import io.condense.sdk.eval.EvaluationResult;
import io.condense.sdk.eval.Evaluator;
import io.condense.sdk.eval.InferenceSession;
import io.condense.sdk.model.ModelEditor;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.model.WeightLayer;
import io.condense.sdk.stats.ShapeInference;
import io.condense.sdk.tensor.DataType;
import io.condense.sdk.tensor.Tensor;
import io.condense.sdk.testkit.Evaluators;
import io.condense.sdk.testkit.SharedData;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * At full rank every factorisation is exact, so the written graph must reproduce the original outputs up to float
 * rounding: this checks the graph surgery itself (transB layouts, MatMul operand order, pads, strides and dilations
 * split between the two convolutions, Tucker-2's core) independently of how much a truncation loses.
 */
class FactorisationExactnessTest {
    private static final SvdSolver FULL = new SvdSolver(SvdSolver.Mode.FULL, new RandomizedSvd(10, 2, 1));

    /** Writes one layer at full rank, bypassing the "only when smaller" rule. */
    static OnnxModel atFullRank(OnnxModel model, String layerName, String scheme) {
        WeightLayer layer = model.weightLayers().stream().filter(candidate -> candidate.displayName().equals(layerName)).findFirst()
                .orElseThrow(() -> new AssertionError("no layer " + layerName));
        Tensor weight = model.tensor(layer.weightName());
        ShapeInference shapes = ShapeInference.of(model);
        long[] input = shapes.shape(layer.node().getInput(0)).orElse(null);
        long[] output = shapes.shape(layer.node().getOutput(0)).orElse(null);
        Factorisation factorisation = switch (scheme) {
            case "gemm" -> new MatrixFactorisation(layer, weight, 0, MatrixFactorisation.Layout.GEMM, null, null, null);
            case "matmul" -> new MatrixFactorisation(layer, weight, 0, layer.node().getInput(1).equals(layer.weightName())
                    ? MatrixFactorisation.Layout.MATMUL_RIGHT : MatrixFactorisation.Layout.MATMUL_LEFT, null, null, null);
            case "pointwise" -> new MatrixFactorisation(layer, weight, 0, MatrixFactorisation.Layout.CONV_POINTWISE, null, input, output);
            case "spatial" -> new MatrixFactorisation(layer, weight, 0, MatrixFactorisation.Layout.CONV_SPATIAL,
                    ConvolutionGeometry.read(layer.node(), weight.shape()), input, output);
            case "tucker" -> new TuckerFactorisation(layer, weight, 0, input, output);
            default -> throw new IllegalArgumentException(scheme);
        };
        int rank = factorisation.maxRank();
        factorisation.decompose(new RankRule.Fixed(rank), false, FULL);
        Choice choice = factorisation instanceof TuckerFactorisation tucker
                ? tucker.choice((int) weight.shape()[1], (int) weight.shape()[0])
                : ((MatrixFactorisation) factorisation).choice(rank);
        assertThat(choice.relativeError()).isLessThan(1e-6);
        ModelEditor editor = model.edit();
        factorisation.write(editor, choice, model.opsetVersion("").orElse(1L));
        return editor.build();
    }

    @ParameterizedTest(name = "{0} {1} {2}")
    @CsvSource({
            "pytorch_cnn_mnist.onnx, 17, gemm", // Gemm transB=1, opset 9 (zero C on the first Gemm)
            "pytorch_cnn_mnist.onnx, 12, spatial", // 5 x 5, no pads
            "pytorch_cnn_mnist.onnx, 12, tucker",
            "mnist8/model.onnx, Convolution110, spatial", // auto_pad=SAME_UPPER made explicit
            "mnist8/model.onnx, Convolution110, tucker", // auto_pad kept on the core
            "mnist8/model.onnx, Times212, matmul", // MatMul weight folded from a Reshape, second operand
            "ultraface/version-RFB-320.onnx, 245, spatial", // stride 2, pads 1
            "ultraface/version-RFB-320.onnx, 289, spatial", // dilation 2, pads 2
            "ultraface/version-RFB-320.onnx, 306, tucker", // dilation 5
            "ultraface/version-RFB-320.onnx, 435, spatial", // with a bias
            "ultraface/version-RFB-320.onnx, 251, pointwise"})
    void fullRankReproducesTheOriginalOutputs(String file, String layer, String scheme) throws Exception {
        OnnxModel original = OnnxModel.load(SharedData.model(file)).edit().foldConstantReshapes().build();
        OnnxModel written = OnnxModel.fromBytes(atFullRank(original, layer, scheme).toBytes());
        Dataset data = file.startsWith("ultraface") ? LowRankTechniqueTest.ultrafacePhotos().head(1)
                : SharedData.mnistDigits(20, file.startsWith("mnist8") ? 1f / 255 : 1f);
        EvaluationResult result = Evaluators.fromServiceLoader().compare(original, written, EvaluationRequest.of(data, data.size()));
        System.out.printf("full rank %s %s %s: output SQNR %.1f dB%n", file, layer, scheme, result.sqnrDb());
        // float32 factors: agreement to float rounding, 80 dB is an error below 1e-4 of the signal
        assertThat(result.sqnrDb()).isGreaterThan(80);
        assertThat(result.top1Agreement()).isEqualTo(1.0);
    }

    @Test
    void gemmWithoutTransposeAndMatMulWithTheWeightFirstAreExactToo() {
        SplittableRandom random = new SplittableRandom(3);
        // X [2, 6]; Y1 = 0.5 * X B + 2 * C with B [6, 5] (transB=0), C [5]; Y2 = W X with W [4, 2] (weight first)
        GraphProto graph = GraphProto.newBuilder().setName("hand_made")
                .addInput(value("X", 2, 6))
                .addOutput(value("Y1", 2, 5))
                .addOutput(value("Y2", 4, 6))
                .addInitializer(tensor("B", random, 6, 5))
                .addInitializer(tensor("C", random, 5))
                .addInitializer(tensor("W", random, 4, 2))
                .addNode(NodeProto.newBuilder().setOpType("Gemm").setName("gemm").addInput("X").addInput("B").addInput("C").addOutput("Y1")
                        .addAttribute(AttributeProto.newBuilder().setName("alpha").setType(AttributeProto.AttributeType.FLOAT).setF(0.5f))
                        .addAttribute(AttributeProto.newBuilder().setName("beta").setType(AttributeProto.AttributeType.FLOAT).setF(2f)))
                .addNode(NodeProto.newBuilder().setOpType("MatMul").setName("matmul").addInput("W").addInput("X").addOutput("Y2"))
                .build();
        OnnxModel model = OnnxModel.of(ModelProto.newBuilder().setIrVersion(7).setGraph(graph)
                .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(13)).build());
        OnnxModel written = atFullRank(atFullRank(model, "gemm", "gemm"), "matmul", "matmul");
        assertThat(written.nodes()).hasSize(4);

        float[] input = new float[12];
        for (int i = 0; i < input.length; i++) {
            input[i] = (float) random.nextDouble(-1, 1);
        }
        Evaluator evaluator = Evaluators.fromServiceLoader();
        Map<String, NdArray> inputs = Map.of("X", NdArray.ofFloats(new long[] {2, 6}, input));
        try (InferenceSession before = evaluator.open(model); InferenceSession after = evaluator.open(written)) {
            Map<String, NdArray> expected = before.run(inputs);
            Map<String, NdArray> actual = after.run(inputs);
            for (String output : new String[] {"Y1", "Y2"}) {
                float[] want = expected.get(output).toFloatArray();
                float[] have = actual.get(output).toFloatArray();
                assertThat(have).as(output).hasSize(want.length);
                for (int i = 0; i < want.length; i++) {
                    assertThat((double) have[i]).as("%s[%d]", output, i).isCloseTo(want[i], org.assertj.core.api.Assertions.within(1e-4));
                }
            }
        }
    }

    private static ValueInfoProto value(String name, long... shape) {
        TensorShapeProto.Builder dims = TensorShapeProto.newBuilder();
        for (long dim : shape) {
            dims.addDim(TensorShapeProto.Dimension.newBuilder().setDimValue(dim));
        }
        return ValueInfoProto.newBuilder().setName(name).setType(TypeProto.newBuilder().setTensorType(
                TypeProto.Tensor.newBuilder().setElemType(TensorProto.DataType.FLOAT_VALUE).setShape(dims))).build();
    }

    private static TensorProto tensor(String name, SplittableRandom random, long... shape) {
        int count = 1;
        for (long dim : shape) {
            count *= (int) dim;
        }
        float[] values = new float[count];
        for (int i = 0; i < count; i++) {
            values[i] = (float) random.nextDouble(-1, 1);
        }
        return Tensor.fromFloats(name, DataType.FLOAT, shape, values).toProto();
    }
}
