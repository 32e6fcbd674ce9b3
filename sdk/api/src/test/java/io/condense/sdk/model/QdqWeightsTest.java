package io.condense.sdk.model;

import static io.condense.sdk.Onnx.floats;
import static io.condense.sdk.Onnx.model;
import static io.condense.sdk.Onnx.node;
import static io.condense.sdk.Onnx.value;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import io.condense.sdk.Onnx;
import io.condense.sdk.tensor.DataType;
import io.condense.sdk.tensor.Tensor;
import java.util.List;
import java.util.OptionalInt;
import org.junit.jupiter.api.Test;

class QdqWeightsTest {
    /** y = x W with W [3, 2]: output channels on axis 1. */
    private static final float[] WEIGHT = {1f, -4f, 2f, 8f, -3f, 0f};

    @Test
    void perAxisLevelsReplaceTheWeightAndRunInOnnxRuntime() {
        OnnxModel model = matMul();
        ModelEditor editor = model.edit();
        editor.requireOpset("", QdqWeights.PER_AXIS_OPSET);
        // scales 1 and 4 per column: levels are the weights divided by them
        byte[] levels = {1, -1, 2, 2, -3, 0};
        WeightLayer layer = model.weightLayers().get(0);
        String read = QdqWeights.write(editor, "w", List.of(layer), "quantized", DataType.INT8, new long[] {3, 2}, levels,
                new float[] {1f, 4f}, OptionalInt.of(layer.outputChannelAxis()));
        OnnxModel written = editor.build();

        assertThat(read).isEqualTo("w_dequantized");
        assertThat(written.isInitializer("w")).as("the float weight is dropped").isFalse();
        assertThat(written.tensor("w_quantized").dataType()).isEqualTo(DataType.INT8);
        assertThat(written.tensor("w_scale").shape()).containsExactly(2);
        assertThat(written.tensor("w_zero_point").dataType()).isEqualTo(DataType.INT8);
        assertThat(written.tensor("w_zero_point").countNonZero()).isZero();
        NodeProto dequantize = written.producer("w_dequantized").orElseThrow();
        assertThat(dequantize.getName()).isEqualTo("w_DequantizeLinear");
        assertThat(dequantize.getInputList()).containsExactly("w_quantized", "w_scale", "w_zero_point");
        assertThat(dequantize.getAttribute(0).getI()).isEqualTo(1);
        assertThat(written.consumers("w_dequantized")).extracting(NodeProto::getOpType).containsExactly("MatMul");

        float[] input = {1f, 2f, 3f};
        assertThat(Onnx.run(written, "x", new long[] {1, 3}, input).get(0))
                .containsExactly(Onnx.run(model, "x", new long[] {1, 3}, input).get(0), within(1e-6f));
    }

    @Test
    void perTensorScaleAndZeroPointAreScalars() {
        OnnxModel model = matMul();
        ModelEditor editor = model.edit();
        byte[] levels = {1, -4, 2, 8, -3, 0};
        QdqWeights.write(editor, "w", model.weightLayers(), "quantized", DataType.UINT8, new long[] {3, 2}, levels, new float[] {1f},
                OptionalInt.empty());
        OnnxModel written = editor.build();
        assertThat(written.tensor("w_scale").shape()).isEmpty();
        assertThat(written.tensor("w_zero_point").shape()).isEmpty();
        assertThat(written.tensor("w_zero_point").dataType()).isEqualTo(DataType.UINT8);
        assertThat(written.producer("w_dequantized").orElseThrow().getAttributeCount()).isZero();
    }

    @Test
    void fourBitLevelsArePackedLowNibbleFirst() {
        TensorProto levels = QdqWeights.levels("l", DataType.INT4, new long[] {3}, new byte[] {-1, 7, -8});
        assertThat(levels.getRawData().toByteArray()).containsExactly((byte) 0x7F, (byte) 0x08);
        assertThat(Tensor.fromProto(levels).toIntArray()).containsExactly(-1, 7, -8);
        TensorProto zeroPoint = QdqWeights.zeroPoint("z", DataType.UINT4, 3, true);
        assertThat(zeroPoint.getRawData().size()).isEqualTo(2);
        assertThat(zeroPoint.getDimsList()).containsExactly(3L);
    }

    @Test
    void refusesWhatDequantizeLinearCannotRead() {
        assertThatThrownBy(() -> QdqWeights.levels("l", DataType.FLOAT, new long[] {1}, new byte[1]))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("int8, uint8, int4 or uint4");
        assertThatThrownBy(() -> QdqWeights.levels("l", DataType.INT8, new long[] {2, 2}, new byte[3]))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("3 levels");
        assertThatThrownBy(() -> QdqWeights.scales("s", new float[2], false)).isInstanceOf(IllegalArgumentException.class);
        OnnxModel model = matMul();
        assertThatThrownBy(() -> QdqWeights.write(model.edit(), "w", model.weightLayers(), "q", DataType.INT8, new long[] {3, 2},
                new byte[6], new float[3], OptionalInt.of(1))).isInstanceOf(IllegalArgumentException.class);
    }

    private static OnnxModel matMul() {
        return OnnxModel.of(model(13, List.of(value("x", 1, 3)), List.of(value("y", 1, 2)),
                List.of(node("MatMul", List.of("x", "w"), List.of("y"))), List.of(floats("w", new long[] {3, 2}, WEIGHT))));
    }
}
