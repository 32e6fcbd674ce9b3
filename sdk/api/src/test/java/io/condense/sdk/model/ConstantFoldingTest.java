package io.condense.sdk.model;

import static io.condense.sdk.Onnx.floats;
import static io.condense.sdk.Onnx.intAttribute;
import static io.condense.sdk.Onnx.intsAttribute;
import static io.condense.sdk.Onnx.node;
import static io.condense.sdk.Onnx.value;
import static org.assertj.core.api.Assertions.assertThat;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.SparseTensorProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import io.condense.sdk.Onnx;
import io.condense.sdk.tensor.DataType;
import io.condense.sdk.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Weights written as Constant nodes, behind chains of layout ops, as graph inputs or in Einsum become initializers. */
class ConstantFoldingTest {
    private static final Random RANDOM = new Random(19);

    private static float[] random(int count) {
        float[] values = new float[count];
        for (int i = 0; i < count; i++) {
            values[i] = (float) RANDOM.nextGaussian();
        }
        return values;
    }

    private static NodeProto constant(String output, AttributeProto value) {
        return NodeProto.newBuilder().setOpType("Constant").setName(output + "_const").addOutput(output).addAttribute(value).build();
    }

    private static AttributeProto tensorValue(TensorProto tensor) {
        return AttributeProto.newBuilder().setName("value").setType(AttributeProto.AttributeType.TENSOR).setT(tensor).build();
    }

    private static void assertSameOutputs(OnnxModel before, OnnxModel after, String input, long[] shape) {
        int count = 1;
        for (long dim : shape) {
            count *= (int) dim;
        }
        float[] data = random(count);
        List<float[]> expected = Onnx.run(before, input, shape, data);
        List<float[]> actual = Onnx.run(after, input, shape, data);
        assertThat(actual).hasSameSizeAs(expected);
        for (int i = 0; i < expected.size(); i++) {
            assertThat(actual.get(i)).containsExactly(expected.get(i));
        }
    }

    @Test
    void constantNodeWeightsOfEveryKindBecomeInitializersTheLayersRead() {
        float[] conv = random(4 * 2 * 3 * 3);
        float[] dense = random(16 * 6);
        for (int i = 0; i < dense.length; i += 3) {
            dense[i] = 0;
        }
        Tensor sparse = Tensor.fromFloats("sparse", DataType.FLOAT, new long[] {16, 6}, dense);
        SparseTensorProto sparseProto = sparse.toSparseProto();
        float[] bias = random(6);
        List<Float> biasList = new ArrayList<>();
        for (float b : bias) {
            biasList.add(b);
        }
        List<NodeProto> nodes = List.of(
                constant("conv.w", tensorValue(floats("ignored", new long[] {4, 2, 3, 3}, conv))),
                node("Conv", List.of("x", "conv.w"), List.of("c")),
                constant("shape", AttributeProto.newBuilder().setName("value_ints").setType(AttributeProto.AttributeType.INTS)
                        .addInts(1).addInts(-1).build()),
                node("Reshape", List.of("c", "shape"), List.of("f")),
                constant("fc.w", AttributeProto.newBuilder().setName("sparse_value").setType(AttributeProto.AttributeType.SPARSE_TENSOR)
                        .setSparseTensor(sparseProto).build()),
                node("MatMul", List.of("f", "fc.w"), List.of("m")),
                constant("fc.b", AttributeProto.newBuilder().setName("value_floats").setType(AttributeProto.AttributeType.FLOATS)
                        .addAllFloats(biasList).build()),
                node("Add", List.of("m", "fc.b"), List.of("a")),
                constant("half", AttributeProto.newBuilder().setName("value_float").setType(AttributeProto.AttributeType.FLOAT)
                        .setF(0.5f).build()),
                node("Mul", List.of("a", "half"), List.of("y")));
        OnnxModel model = OnnxModel.of(Onnx.model(13, List.of(value("x", 1, 2, 4, 4)), List.of(value("y", 1, 6)), nodes, List.of()));
        assertThat(model.weightLayers()).isEmpty();

        OnnxModel folded = model.edit().foldConstants().build();

        assertThat(folded.nodes()).extracting(NodeProto::getOpType).containsExactly("Conv", "Reshape", "MatMul", "Add", "Mul");
        assertThat(folded.weightLayers()).extracting(WeightLayer::weightName).containsExactly("conv.w", "fc.w");
        assertThat(folded.tensor("conv.w").toFloatArray()).containsExactly(conv);
        assertThat(folded.initializer("fc.w")).as("a sparse_value is stored dense").isPresent();
        assertThat(folded.tensor("fc.w").toFloatArray()).containsExactly(dense);
        assertThat(folded.tensor("fc.b").toFloatArray()).containsExactly(bias);
        assertThat(folded.tensor("shape").toLongArray()).containsExactly(1, -1);
        assertSameOutputs(model, folded, "x", new long[] {1, 2, 4, 4});
    }

    @Test
    void modelStatsCountWeightsWrittenAsConstantNodes() {
        List<NodeProto> nodes = List.of(constant("w", tensorValue(floats("w", new long[] {8, 4}, random(32)))),
                node("MatMul", List.of("x", "w"), List.of("y")));
        OnnxModel model = OnnxModel.of(Onnx.model(13, List.of(value("x", 2, 8)), List.of(value("y", 2, 4)), nodes, List.of()));
        io.condense.sdk.stats.ModelStats stats = io.condense.sdk.stats.ModelStats.of(model);
        assertThat(stats.parameters()).isEqualTo(32);
        assertThat(stats.macs()).isEqualTo(2 * 8 * 4);
    }

    @Test
    void anIdentityOfAWeightIsASecondNameForTheSameWeightNotACopy() {
        // what torch.onnx.export writes for tied or de-duplicated parameters: the second layer reads Identity(first weight)
        Tensor weight = Tensor.fromFloats("layer0.weight", DataType.FLOAT, new long[] {8, 8}, random(64));
        List<NodeProto> nodes = List.of(
                node("MatMul", List.of("x", "layer0.weight"), List.of("h")),
                node("Identity", List.of("layer0.weight"), List.of("layer1.weight")),
                node("MatMul", List.of("h", "layer1.weight"), List.of("y")));
        OnnxModel model = OnnxModel.of(Onnx.model(13, List.of(value("x", 2, 8)), List.of(value("y", 2, 8)), nodes,
                List.of(weight.toProto())));

        OnnxModel folded = model.edit().foldConstants().build();

        assertThat(folded.nodes()).extracting(NodeProto::getOpType).containsExactly("MatMul", "MatMul");
        assertThat(folded.nodes()).allSatisfy(node -> assertThat(node.getInput(1)).isEqualTo("layer0.weight"));
        assertThat(folded.graph().getInitializerList()).extracting(TensorProto::getName).containsExactly("layer0.weight");
        assertThat(io.condense.sdk.stats.ModelStats.of(folded).parameters()).isEqualTo(64);
        assertSameOutputs(model, folded, "x", new long[] {2, 8});
    }

    @Test
    void castTransposeReshapeAndIdentityChainsFoldIntoOneFloatWeight() {
        float[] stored = random(6 * 8);
        Tensor half = Tensor.fromFloats("w16", DataType.FLOAT16, new long[] {6, 8}, stored);
        List<NodeProto> nodes = List.of(
                constant("w16", tensorValue(half.toProto())),
                node("Cast", List.of("w16"), List.of("w32"), intAttribute("to", 1)),
                node("Transpose", List.of("w32"), List.of("wt"), intsAttribute("perm", 1, 0)),
                node("Identity", List.of("wt"), List.of("w")),
                node("MatMul", List.of("x", "w"), List.of("y")));
        OnnxModel model = OnnxModel.of(Onnx.model(13, List.of(value("x", 3, 8)), List.of(value("y", 3, 6)), nodes, List.of()));

        OnnxModel folded = model.edit().foldConstants().build();

        assertThat(folded.nodes()).extracting(NodeProto::getOpType).containsExactly("MatMul");
        WeightLayer layer = folded.weightLayers().get(0);
        // the Identity is a second name: the MatMul reads the folded weight itself
        assertThat(layer.weightName()).isEqualTo("wt");
        Tensor weight = folded.tensor("wt");
        assertThat(weight.dataType()).isEqualTo(DataType.FLOAT);
        assertThat(weight.shape()).containsExactly(8, 6);
        float[] halfValues = half.toFloatArray();
        for (int row = 0; row < 8; row++) {
            for (int column = 0; column < 6; column++) {
                assertThat(weight.getFloat(row * 6L + column)).isEqualTo(halfValues[column * 8 + row]);
            }
        }
        assertSameOutputs(model, folded, "x", new long[] {3, 8});
    }

    @Test
    void transposeOfAThreeDimensionalConstantMatchesOnnxRuntime() {
        float[] values = random(2 * 3 * 4);
        List<NodeProto> nodes = List.of(
                node("Transpose", List.of("w"), List.of("wt"), intsAttribute("perm", 2, 0, 1)),
                node("Add", List.of("x", "wt"), List.of("y")));
        OnnxModel model = OnnxModel.of(Onnx.model(13, List.of(value("x", 4, 2, 3)), List.of(value("y", 4, 2, 3)), nodes,
                List.of(floats("w", new long[] {2, 3, 4}, values))));
        OnnxModel folded = model.edit().foldConstants().build();
        assertThat(folded.nodes()).extracting(NodeProto::getOpType).containsExactly("Add");
        assertSameOutputs(model, folded, "x", new long[] {4, 2, 3});
    }

    @Test
    void einsumMatrixProductsBecomeMatMulWithTheWeightInEitherLayout() {
        float[] first = random(8 * 5);
        float[] second = random(3 * 5);
        List<NodeProto> nodes = List.of(
                NodeProto.newBuilder(node("Einsum", List.of("x", "a"), List.of("h"))).addAttribute(equation("bij,jk->bik")).build(),
                NodeProto.newBuilder(node("Einsum", List.of("h", "b"), List.of("y"))).addAttribute(equation("bij,kj->bik")).build());
        OnnxModel model = OnnxModel.of(Onnx.model(12, List.of(value("x", 2, 4, 8)), List.of(value("y", 2, 4, 3)), nodes,
                List.of(floats("a", new long[] {8, 5}, first), floats("b", new long[] {3, 5}, second))));
        assertThat(model.weightLayers()).isEmpty();
        assertThat(LayerSelection.unhandled(model)).extracting(LayerSelection.Skipped::opTypes).containsExactly("Einsum", "Einsum");

        OnnxModel folded = model.edit().foldConstants().build();

        assertThat(folded.nodes()).extracting(NodeProto::getOpType).containsExactly("MatMul", "MatMul");
        assertThat(folded.weightLayers()).extracting(WeightLayer::outputChannelAxis).containsExactly(1, 1);
        assertThat(folded.tensor(folded.weightLayers().get(1).weightName()).shape()).containsExactly(5, 3);
        int count = 2 * 4 * 8;
        float[] input = random(count);
        List<float[]> expected = Onnx.run(model, "x", new long[] {2, 4, 8}, input);
        List<float[]> actual = Onnx.run(folded, "x", new long[] {2, 4, 8}, input);
        assertThat(actual.get(0)).usingComparatorWithPrecision(1e-5f).containsExactly(expected.get(0));
    }

    @Test
    void anEinsumThatIsNotAMatrixProductStaysAndIsNamed() {
        List<NodeProto> nodes = List.of(
                NodeProto.newBuilder(node("Einsum", List.of("x", "a"), List.of("y"))).addAttribute(equation("ij,ij->i")).build());
        OnnxModel model = OnnxModel.of(Onnx.model(12, List.of(value("x", 4, 8)), List.of(value("y", 4)), nodes,
                List.of(floats("a", new long[] {4, 8}, random(32)))));
        OnnxModel folded = model.edit().foldConstants().build();
        assertThat(folded.nodes()).extracting(NodeProto::getOpType).containsExactly("Einsum");
        assertThat(LayerSelection.unhandled(folded)).singleElement()
                .satisfies(skipped -> assertThat(skipped.reason()).contains("'ij,ij->i' is not a matrix product"));
    }

    @Test
    void initializersAlsoListedAsInputsOfAnIrThreeModelAreWeightsAndTheResultIsIrFour() {
        float[] weight = random(8 * 4);
        List<ValueInfoProto> inputs = List.of(value("x", 2, 8), value("w", 8, 4));
        ModelProto proto = Onnx.model(7, inputs, List.of(value("y", 2, 4)), List.of(node("MatMul", List.of("x", "w"), List.of("y"))),
                List.of(floats("w", new long[] {8, 4}, weight))).toBuilder().setIrVersion(3).build();
        OnnxModel model = OnnxModel.of(proto);
        assertThat(model.inputs()).extracting(ValueInfoProto::getName).containsExactly("x");
        assertThat(model.weightLayers()).singleElement().satisfies(layer -> assertThat(layer.weightName()).isEqualTo("w"));

        OnnxModel rewritten = model.edit().foldConstants().putInitializer(floats("w", new long[] {8, 4}, weight)).build();
        assertThat(rewritten.graph().getInputList()).extracting(ValueInfoProto::getName).containsExactly("x");
        assertThat(rewritten.proto().getIrVersion()).isGreaterThanOrEqualTo(4);
        assertSameOutputs(model, rewritten, "x", new long[] {2, 8});
    }

    @Test
    void aFoldedConstantModelOfIrThreeIsRaisedToIrFour() {
        List<NodeProto> nodes = List.of(constant("w", tensorValue(floats("w", new long[] {8, 4}, random(32)))),
                node("MatMul", List.of("x", "w"), List.of("y")));
        ModelProto proto = Onnx.model(7, List.of(value("x", 2, 8)), List.of(value("y", 2, 4)), nodes, List.of()).toBuilder()
                .setIrVersion(3).build();
        OnnxModel folded = OnnxModel.of(proto).edit().foldConstants().build();
        assertThat(folded.proto().getIrVersion()).isEqualTo(4);
        assertThat(folded.weightLayers()).hasSize(1);
    }

    @Test
    void constantOfShapeWeightsAreFilled() {
        TensorProto fill = floats("fill", new long[] {1}, 0.02f);
        List<NodeProto> nodes = List.of(
                NodeProto.newBuilder(node("ConstantOfShape", List.of("shape"), List.of("w"))).addAttribute(tensorValue(fill)).build(),
                node("MatMul", List.of("x", "w"), List.of("y")));
        OnnxModel model = OnnxModel.of(Onnx.model(13, List.of(value("x", 2, 8)), List.of(value("y", 2, 4)), nodes,
                List.of(Tensor.fromLongs("shape", new long[] {2}, new long[] {8, 4}).toProto())));
        OnnxModel folded = model.edit().foldConstants().build();
        assertThat(folded.tensor("w").toFloatArray()).hasSize(32).containsOnly(0.02f);
        assertSameOutputs(model, folded, "x", new long[] {2, 8});
    }

    @Test
    void convTransposeBatchedMatMulAndRecurrentLayersAreFoundOrNamed() {
        List<NodeProto> nodes = List.of(
                node("ConvTranspose", List.of("x", "deconv"), List.of("u")),
                node("MatMul", List.of("v", "batched"), List.of("b")),
                node("LSTM", List.of("s", "lstm.w", "lstm.r"), List.of("h")));
        OnnxModel model = OnnxModel.of(Onnx.model(13, List.of(value("x", 1, 4, 3, 3), value("v", 2, 3, 5), value("s", 2, 1, 3)),
                List.of(value("u"), value("b"), value("h")), nodes,
                List.of(floats("deconv", new long[] {4, 6, 2, 2}, random(96)), floats("batched", new long[] {2, 5, 7}, random(70)),
                        floats("lstm.w", new long[] {1, 8, 3}, random(24)), floats("lstm.r", new long[] {1, 8, 2}, random(16)))));
        List<WeightLayer> layers = model.weightLayers();
        assertThat(layers).extracting(WeightLayer::opType).containsExactly("ConvTranspose", "MatMul");
        assertThat(layers.get(0).outputChannelAxis()).isEqualTo(1);
        assertThat(layers.get(0).inputChannelAxis()).isEqualTo(0);
        assertThat(layers.get(1).outputChannelAxis()).isEqualTo(2);
        assertThat(layers.get(1).inputChannelAxis()).isEqualTo(1);
        LayerSelection.Result selection = new LayerSelection(List.of(), 0).select(model, layers);
        assertThat(selection.candidates()).hasSize(2);
        assertThat(selection.skipped()).singleElement().satisfies(skipped -> {
            assertThat(skipped.opTypes()).isEqualTo("LSTM");
            assertThat(skipped.reason()).contains("recurrent layer");
        });
        assertThat(ModelContents.describe(model)).contains("left alone").contains("LSTM");
    }

    @Test
    void aWeightAlreadyQuantizedThroughDequantizeLinearIsNamedNotQuantizedTwice() {
        List<NodeProto> nodes = List.of(
                node("DequantizeLinear", List.of("w_q", "w_scale"), List.of("w")),
                node("MatMul", List.of("x", "w"), List.of("y")));
        OnnxModel model = OnnxModel.of(Onnx.model(13, List.of(value("x", 2, 4)), List.of(value("y", 2, 3)), nodes,
                List.of(Tensor.fromInts("w_q", DataType.INT8, new long[] {4, 3}, new int[12]).toProto(),
                        floats("w_scale", new long[] {}, 0.1f))));
        assertThat(LayerSelection.unhandled(model)).singleElement().satisfies(skipped -> {
            assertThat(skipped.weightName()).isEqualTo("w_q");
            assertThat(skipped.reason()).contains("already quantized (int8 through DequantizeLinear)");
        });
    }

    private static AttributeProto equation(String equation) {
        return AttributeProto.newBuilder().setName("equation").setType(AttributeProto.AttributeType.STRING)
                .setS(com.google.protobuf.ByteString.copyFromUtf8(equation)).build();
    }
}
