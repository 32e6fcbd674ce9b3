package io.condense.plugin.training;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.OperatorSetIdProto;
import ai.onnx.proto.OnnxMl.TensorShapeProto;
import ai.onnx.proto.OnnxMl.TypeProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.tensor.DataType;
import io.condense.sdk.tensor.Tensor;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The training form and the write-back rules on a 4 x 3 layer, without training: the "trained" model is the training
 * graph with its latents and scales edited by hand, so every written level, flip and rescale is known exactly.
 */
class TrainingGraphTest {
    private static final float[] SCALES = {0.5f, 0.25f, 1f, 2f};
    private static final float ACTIVATION_SCALE = 0.1f;

    /** x [batch, 3] -> QDQ (uint8) -> Gemm(transB=1) with int8 weight levels [4, 3] per channel (axis 0) and an int32 bias. */
    private static OnnxModel layer(int[] levels, boolean withBias) {
        GraphProto.Builder graph = GraphProto.newBuilder().setName("g");
        graph.addInput(valueInfo("x", 3));
        graph.addOutput(valueInfo("y", 4));
        graph.addInitializer(Tensor.fromInts("w_levels", DataType.INT8, new long[] {4, 3}, levels).toProto());
        graph.addInitializer(Tensor.fromFloats("w_scale", DataType.FLOAT, new long[] {4}, SCALES).toProto());
        graph.addInitializer(Tensor.fromInts("w_zero_point", DataType.INT8, new long[] {4}, new int[4]).toProto());
        graph.addInitializer(Tensor.fromFloats("x_scale", DataType.FLOAT, new long[0], new float[] {ACTIVATION_SCALE}).toProto());
        graph.addInitializer(Tensor.fromInts("x_zero_point", DataType.UINT8, new long[0], new int[] {128}).toProto());
        graph.addNode(node("QuantizeLinear", List.of("x", "x_scale", "x_zero_point"), "xq"));
        graph.addNode(node("DequantizeLinear", List.of("xq", "x_scale", "x_zero_point"), "xd"));
        graph.addNode(node("DequantizeLinear", List.of("w_levels", "w_scale", "w_zero_point"), "w").toBuilder()
                .addAttribute(AttributeProto.newBuilder().setName("axis").setType(AttributeProto.AttributeType.INT).setI(0)).build());
        NodeProto.Builder gemm = node("Gemm", List.of("xd", "w"), "y").toBuilder()
                .addAttribute(AttributeProto.newBuilder().setName("transB").setType(AttributeProto.AttributeType.INT).setI(1));
        if (withBias) {
            float[] biasScales = new float[4];
            for (int c = 0; c < 4; c++) {
                biasScales[c] = ACTIVATION_SCALE * SCALES[c];
            }
            graph.addInitializer(Tensor.fromInts("b_levels", DataType.INT32, new long[] {4}, new int[] {100, -40, 7, 0}).toProto());
            graph.addInitializer(Tensor.fromFloats("b_scale", DataType.FLOAT, new long[] {4}, biasScales).toProto());
            graph.addNode(node("DequantizeLinear", List.of("b_levels", "b_scale"), "b").toBuilder()
                    .addAttribute(AttributeProto.newBuilder().setName("axis").setType(AttributeProto.AttributeType.INT).setI(0)).build());
            gemm.addInput("b");
        }
        graph.addNode(gemm);
        return OnnxModel.of(ModelProto.newBuilder().setIrVersion(8)
                .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(13)).setGraph(graph).build());
    }

    private static NodeProto node(String op, List<String> inputs, String output) {
        return NodeProto.newBuilder().setOpType(op).setName(output + "_node").addAllInput(inputs).addOutput(output).build();
    }

    private static ValueInfoProto valueInfo(String name, long features) {
        return ValueInfoProto.newBuilder().setName(name).setType(TypeProto.newBuilder().setTensorType(TypeProto.Tensor.newBuilder()
                .setElemType(1).setShape(TensorShapeProto.newBuilder()
                        .addDim(TensorShapeProto.Dimension.newBuilder().setDimParam("batch"))
                        .addDim(TensorShapeProto.Dimension.newBuilder().setDimValue(features))))).build();
    }

    private static OnnxModel withFloats(OnnxModel model, Map<String, float[]> values) {
        var editor = model.edit();
        values.forEach((name, data) -> editor.putInitializer(Tensor.fromFloats(name, DataType.FLOAT, model.tensor(name).shape(), data)
                .toProto()));
        return editor.build();
    }

    @Test
    void ternaryTrainsItsScalesFlipsNegativeOnesAndRescalesTheInt32Bias() {
        int[] levels = {1, 0, -1, -1, 1, 0, 0, 0, 1, 1, -1, 0};
        OnnxModel input = layer(levels, true);
        TrainingGraph graph = TrainingGraph.of(input);
        assertThat(graph.weights()).singleElement().satisfies(w -> {
            assertThat(w.form()).isEqualTo(TrainingGraph.Form.TERNARY);
            assertThat(w.scaleTrained()).isTrue();
        });
        assertThat(graph.trainable()).hasValueSatisfying(names -> assertThat(names).contains("w_scale", "w_levels_latent",
                "b_levels_latent").doesNotContain("x_scale", "w_scale_fixed"));
        assertThat(graph.model().nodes()).extracting(NodeProto::getOpType)
                .contains("QuantizeLinear", "Clip", "DequantizeLinear", "Identity");
        assertThat(graph.biases()).singleElement().satisfies(b -> assertThat(b.rescale()).isTrue());

        // "trained": channel 0's scale went negative, channel 1's doubled; latents moved past the thresholds
        OnnxModel training = graph.model();
        float[] latent = training.tensor("w_levels_latent").toFloatArray();
        latent[1] = 0.3f;          // channel 0 (scale 0.5, fixed copy 0.5): 0.6 steps -> level 1
        latent[3] = -5f;           // channel 1: far below -> clipped to -1
        latent[4] = 0.12f;         // channel 1 (0.25): 0.48 steps -> level 0
        float[] bias = training.tensor("b_levels_latent").toFloatArray();
        OnnxModel trained = withFloats(training, Map.of("w_levels_latent", latent, "w_scale", new float[] {-0.6f, 0.5f, 1f, 2f},
                "b_levels_latent", bias));
        TrainingGraph.WrittenBack written = graph.writeBack(trained);
        OnnxModel model = written.model();

        assertThat(model.tensor("w_levels").dataType()).isEqualTo(DataType.INT8);
        // channel 0 levels (1, 1, -1) negated with its scale -0.6 -> 0.6
        assertThat(model.tensor("w_levels").toIntArray()).containsExactly(-1, -1, 1, -1, 0, 0, 0, 0, 1, 1, -1, 0);
        assertThat(model.tensor("w_scale").toFloatArray()).containsExactly(0.6f, 0.5f, 1f, 2f);
        // bias scales: activation x weight scale again (channel 0 by 0.6 / 0.5, channel 1 by 2); levels requantized
        float[] biasScales = model.tensor("b_scale").toFloatArray();
        assertThat(biasScales[0]).isCloseTo(ACTIVATION_SCALE * 0.6f, org.assertj.core.data.Offset.offset(1e-7f));
        assertThat(biasScales[1]).isCloseTo(ACTIVATION_SCALE * 0.5f, org.assertj.core.data.Offset.offset(1e-7f));
        assertThat(model.tensor("b_levels").toIntArray()).containsExactly(Math.round(100 / 1.2f), -20, 7, 0);
        assertThat(model.tensor("b_levels").dataType()).isEqualTo(DataType.INT32);
        assertThat(written.layers().get(0)).containsEntry("form", "ternary").containsEntry("levels_kept", true)
                .containsEntry("scales_flipped", 1L).containsEntry("levels_changed", 4L);
        assertThat(model.nodes()).extracting(NodeProto::getOpType).containsExactlyElementsOf(
                input.nodes().stream().map(NodeProto::getOpType).toList());
    }

    @Test
    void binaryWritesSignsAndUniformLevelsStayInTheirRange() {
        OnnxModel binary = layer(new int[] {1, -1, 1, 1, 1, -1, -1, -1, 1, 1, -1, -1}, false);
        TrainingGraph graph = TrainingGraph.of(binary);
        assertThat(graph.weights().get(0).form()).isEqualTo(TrainingGraph.Form.BINARY);
        assertThat(graph.model().nodes()).extracting(NodeProto::getOpType).contains("Sign").doesNotContain("Clip");
        float[] latent = graph.model().tensor("w_levels_latent").toFloatArray();
        latent[0] = -0.01f;
        latent[1] = 0f;
        OnnxModel written = graph.writeBack(withFloats(graph.model(), Map.of("w_levels_latent", latent))).model();
        assertThat(written.tensor("w_levels").toIntArray()).startsWith(-1, 1, 1, 1);

        // int8 levels -3..3 (uniform): latents far out clip to the range the input used, scales stay
        OnnxModel uniform = layer(new int[] {-3, -2, -1, 0, 1, 2, 3, 2, 1, 0, -1, -2}, false);
        TrainingGraph qat = TrainingGraph.of(uniform);
        assertThat(qat.weights().get(0).form()).isEqualTo(TrainingGraph.Form.QAT);
        assertThat(qat.trainable()).isEmpty();
        float[] moved = qat.model().tensor("w_levels_latent").toFloatArray();
        moved[0] = -100f;
        moved[1] = 100f;
        moved[2] = -0.26f;         // channel 0, scale 0.5: -0.52 steps -> -1
        OnnxModel written2 = qat.writeBack(withFloats(qat.model(), Map.of("w_levels_latent", moved))).model();
        assertThat(written2.tensor("w_levels").toIntArray()).startsWith(-3, 3, -1, 0);
        assertThat(written2.tensor("w_scale").toFloatArray()).containsExactly(SCALES);
    }

    @Test
    void powersOfTwoAndSparseLevelSetsAreRefused() {
        assertThatThrownBy(() -> TrainingGraph.of(layer(new int[] {0, 1, -2, 4, -4, 8, 0, 1, 2, -8, 16, 0}, false)))
                .isInstanceOfSatisfying(CondenseException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.UNSUPPORTED_MODEL))
                .hasMessageContaining("w_levels").hasMessageContaining("powers of two").hasMessageContaining("scheme=uniform");
        assertThatThrownBy(() -> TrainingGraph.of(layer(new int[] {-30, 0, 30, 0, 5, 0, -30, 30, 0, 0, 5, 0}, false)))
                .isInstanceOfSatisfying(CondenseException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.UNSUPPORTED_MODEL))
                .hasMessageContaining("w_levels").hasMessageContaining("distinct levels");
    }

    @Test
    void blockedParametersRepeatAlongTheAxisAndTheLastBlockIsShorter() {
        // [2, 5] in blocks of 2 along axis 1: 3 blocks a row
        assertThat(TrainingGraph.parameterIndex("w", new long[] {2, 5}, new long[] {2, 3}, 1, 2))
                .containsExactly(0, 0, 1, 1, 2, 3, 3, 4, 4, 5);
        // [5, 2] in blocks of 2 along axis 0
        assertThat(TrainingGraph.parameterIndex("w", new long[] {5, 2}, new long[] {3, 2}, 0, 2))
                .containsExactly(0, 1, 0, 1, 2, 3, 2, 3, 4, 5);
        assertThat(TrainingGraph.parameterIndex("w", new long[] {2, 3}, new long[] {3}, 1, 0)).containsExactly(0, 1, 2, 0, 1, 2);
    }
}
