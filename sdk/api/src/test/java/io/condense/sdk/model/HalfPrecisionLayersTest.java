package io.condense.sdk.model;

import static io.condense.sdk.Onnx.intAttribute;
import static io.condense.sdk.Onnx.intsAttribute;
import static io.condense.sdk.Onnx.model;
import static io.condense.sdk.Onnx.node;
import static io.condense.sdk.Onnx.value;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.onnx.proto.OnnxMl.NodeProto;
import io.condense.sdk.Onnx;
import io.condense.sdk.tensor.DataType;
import io.condense.sdk.tensor.Tensor;
import java.util.List;
import java.util.OptionalInt;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Widening float16 weight layers to float32 and narrowing them back: the model ONNX Runtime runs stays the same
 * function, plain regions return to float16, quantized ones keep float32 arithmetic between Casts.
 */
class HalfPrecisionLayersTest {
    private static final long[] INPUT = {2, 3, 6, 6};

    /** float32 in, Cast to float16, Conv (float16 weight and bias), Relu, Flatten, MatMul (float16), Cast to float32 out. */
    private static OnnxModel halfModel() {
        Random random = new Random(3);
        return OnnxModel.of(model(13, List.of(value("x", INPUT)), List.of(value("y", 2, 5)), List.of(
                node("Cast", List.of("x"), List.of("x16"), intAttribute("to", DataType.FLOAT16.onnxCode())),
                node("Conv", List.of("x16", "conv_w", "conv_b"), List.of("c"), intsAttribute("pads", 1, 1, 1, 1)),
                node("Relu", List.of("c"), List.of("r")),
                node("Flatten", List.of("r"), List.of("f")),
                node("MatMul", List.of("f", "fc_w"), List.of("m")),
                node("Cast", List.of("m"), List.of("y"), intAttribute("to", DataType.FLOAT.onnxCode()))),
                List.of(half("conv_w", random, 4, 3, 3, 3), half("conv_b", random, 4), half("fc_w", random, 4 * 36, 5))));
    }

    private static ai.onnx.proto.OnnxMl.TensorProto half(String name, Random random, long... shape) {
        float[] values = new float[(int) java.util.Arrays.stream(shape).reduce(1, (a, b) -> a * b)];
        for (int i = 0; i < values.length; i++) {
            values[i] = (float) random.nextGaussian() * 0.3f;
        }
        return Tensor.fromFloats(name, DataType.FLOAT16, shape, values).toProto();
    }

    private static float[] input() {
        Random random = new Random(11);
        float[] x = new float[2 * 3 * 6 * 6];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) random.nextGaussian();
        }
        return x;
    }

    private static float[] run(OnnxModel model) {
        return Onnx.run(model, "x", INPUT, input()).get(0);
    }

    @Test
    void widenedLayersComputeTheSameFunctionInFloat32() {
        OnnxModel original = halfModel();
        OnnxModel widened = HalfPrecisionLayers.widen(original);
        assertThat(HalfPrecisionLayers.present(original)).isTrue();
        assertThat(HalfPrecisionLayers.present(widened)).isFalse();
        assertThat(widened.weightLayers()).extracting(WeightLayer::weightName).containsExactly("conv_w", "fc_w");
        assertThat(widened.tensor("conv_w").dataType()).isEqualTo(DataType.FLOAT);
        assertThat(widened.tensor("conv_b").dataType()).isEqualTo(DataType.FLOAT);
        assertThat(run(widened)).containsExactly(run(original), within(2e-3f));
    }

    @Test
    void narrowingWhatNoTechniqueChangedGivesBackTheFloat16Model() {
        OnnxModel original = halfModel();
        OnnxModel back = HalfPrecisionLayers.narrow(HalfPrecisionLayers.widen(original));
        assertThat(back.nodes()).extracting(NodeProto::getOpType).containsExactlyElementsOf(
                original.nodes().stream().map(NodeProto::getOpType).toList());
        assertThat(back.initializers()).allSatisfy(info -> assertThat(info.dataType()).isEqualTo(DataType.FLOAT16));
        assertThat(back.tensor("fc_w").toFloatArray()).containsExactly(original.tensor("fc_w").toFloatArray());
        assertThat(run(back)).containsExactly(run(original));
    }

    @Test
    void aQuantizedLayerKeepsFloat32ArithmeticAndThePlainOneGoesBackToFloat16() {
        OnnxModel original = halfModel();
        OnnxModel widened = HalfPrecisionLayers.widen(original);
        WeightLayer fc = widened.weightLayers().stream().filter(layer -> layer.weightName().equals("fc_w")).findFirst().orElseThrow();
        float[] weights = widened.tensor("fc_w").toFloatArray();
        float scale = 0f;
        for (float w : weights) {
            scale = Math.max(scale, Math.abs(w) / 127f);
        }
        byte[] levels = new byte[weights.length];
        for (int i = 0; i < weights.length; i++) {
            levels[i] = (byte) Math.round(weights[i] / scale);
        }
        ModelEditor editor = widened.edit();
        QdqWeights.write(editor, "fc_w", List.of(fc), "quantized", DataType.INT8, new long[] {144, 5}, levels, new float[] {scale},
                OptionalInt.empty());
        editor.removeInitializer("fc_w");
        OnnxModel narrowed = HalfPrecisionLayers.narrow(editor.build());

        assertThat(narrowed.tensor("conv_w").dataType()).isEqualTo(DataType.FLOAT16);
        assertThat(narrowed.tensor("conv_b").dataType()).isEqualTo(DataType.FLOAT16);
        assertThat(narrowed.nodes()).extracting(NodeProto::getOpType).contains("DequantizeLinear")
                .filteredOn("Cast"::equals).hasSize(4);
        assertThat(run(narrowed)).containsExactly(run(original), within(0.05f));
    }

    @Test
    void aModelWithoutHalfPrecisionWeightsIsReturnedAsItIs() {
        OnnxModel model = OnnxModel.of(model(13, List.of(value("x", 1, 4)), List.of(value("y", 1, 2)),
                List.of(node("MatMul", List.of("x", "w"), List.of("y"))), List.of(Onnx.floats("w", new long[] {4, 2}, new float[8]))));
        assertThat(HalfPrecisionLayers.widen(model)).isSameAs(model);
        assertThat(HalfPrecisionLayers.narrow(model)).isSameAs(model);
    }
}
