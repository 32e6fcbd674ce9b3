package io.condense.plugin.quantization;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.OperatorSetIdProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnx.proto.OnnxMl.TensorShapeProto;
import ai.onnx.proto.OnnxMl.TypeProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import io.condense.sdk.data.NdArray;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.eval.InferenceSession;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.technique.TechniqueResult;
import io.condense.sdk.tensor.DataType;
import io.condense.sdk.tensor.Tensor;
import io.condense.sdk.testkit.Evaluators;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Layers exporters write that a PyTorch CNN has not: LSTM weights, ConvTranspose, weights in Constant nodes. */
class WildModelsTest {
    private static final Random RANDOM = new Random(19);

    private static TensorProto floats(String name, long[] shape, double scale) {
        int count = 1;
        for (long dim : shape) {
            count *= (int) dim;
        }
        float[] values = new float[count];
        for (int i = 0; i < count; i++) {
            values[i] = (float) (RANDOM.nextGaussian() * scale);
        }
        return Tensor.fromFloats(name, DataType.FLOAT, shape, values).toProto();
    }

    private static ValueInfoProto value(String name, long... dims) {
        TensorShapeProto.Builder shape = TensorShapeProto.newBuilder();
        for (long dim : dims) {
            shape.addDim(TensorShapeProto.Dimension.newBuilder().setDimValue(dim));
        }
        return ValueInfoProto.newBuilder().setName(name).setType(TypeProto.newBuilder()
                .setTensorType(TypeProto.Tensor.newBuilder().setElemType(1).setShape(shape))).build();
    }

    private static OnnxModel model(List<ValueInfoProto> inputs, List<ValueInfoProto> outputs, List<NodeProto> nodes,
            List<TensorProto> initializers) {
        GraphProto graph = GraphProto.newBuilder().setName("wild").addAllInput(inputs).addAllOutput(outputs).addAllNode(nodes)
                .addAllInitializer(initializers).build();
        return OnnxModel.of(ModelProto.newBuilder().setIrVersion(7).setGraph(graph)
                .addOpsetImport(OperatorSetIdProto.newBuilder().setVersion(13)).build());
    }

    private static double sqnr(OnnxModel original, OnnxModel quantized, String input, long[] shape) {
        int count = (int) NdArray.elementCount(shape);
        float[] values = new float[count];
        for (int i = 0; i < count; i++) {
            values[i] = (float) RANDOM.nextGaussian();
        }
        Map<String, NdArray> feed = Map.of(input, NdArray.ofFloats(shape, values));
        try (InferenceSession before = Evaluators.fromServiceLoader().open(original);
                InferenceSession after = Evaluators.fromServiceLoader().open(quantized)) {
            float[] expected = before.run(feed).values().iterator().next().toFloatArray();
            float[] actual = after.run(feed).values().iterator().next().toFloatArray();
            double signal = 0;
            double noise = 0;
            for (int i = 0; i < expected.length; i++) {
                signal += (double) expected[i] * expected[i];
                noise += ((double) expected[i] - actual[i]) * ((double) expected[i] - actual[i]);
            }
            return 10 * Math.log10(signal / noise);
        }
    }

    @Test
    void lstmInputAndRecurrenceWeightsBecomeInt8PerGateAndUnit() {
        int hidden = 16;
        NodeProto lstm = NodeProto.newBuilder().setOpType("LSTM").setName("lstm").addInput("x").addInput("W").addInput("R")
                .addInput("B").addOutput("y").addAttribute(AttributeProto.newBuilder().setName("hidden_size")
                        .setType(AttributeProto.AttributeType.INT).setI(hidden)).build();
        OnnxModel model = model(List.of(value("x", 6, 2, 8)), List.of(value("y", 6, 1, 2, hidden)), List.of(lstm),
                List.of(floats("W", new long[] {1, 4 * hidden, 8}, 0.3), floats("R", new long[] {1, 4 * hidden, hidden}, 0.3),
                        floats("B", new long[] {1, 8 * hidden}, 0.1)));

        TechniqueResult result = QuantizeTechniqueTest.quantize(model, Map.of("bits", "8", "min_elements", "0"));

        assertThat(result.report().layers()).extracting(layer -> layer.get("weight")).containsExactlyInAnyOrder("W", "R");
        assertThat(result.report().layers()).allSatisfy(layer -> {
            assertThat(layer.get("op")).isEqualTo("LSTM");
            assertThat(layer.get("scales")).isEqualTo(4 * hidden);
        });
        assertThat(result.report().get("skipped").toString()).doesNotContain("recurrent");
        OnnxModel quantized = result.model();
        assertThat(quantized.initializer("W_quantized").orElseThrow().getDataType()).isEqualTo(TensorProto.DataType.INT8_VALUE);
        assertThat(quantized.initializer("R_quantized").orElseThrow().getDataType()).isEqualTo(TensorProto.DataType.INT8_VALUE);
        assertThat(quantized.isInitializer("B")).isTrue();
        assertThat(sqnr(model, quantized, "x", new long[] {6, 2, 8})).isGreaterThan(30);

        assertThatThrownBy(() -> QuantizeTechniqueTest.quantize(model, Map.of("bits", "8", "exclude_ops", "LSTM")))
                .isInstanceOfSatisfying(CondenseException.class, e -> {
                    assertThat(e.code()).isEqualTo(ErrorCode.NOTHING_TO_COMPRESS);
                    assertThat(e.getMessage()).contains("lstm: recurrent layer");
                });
    }

    @Test
    void convTransposeIsQuantizedPerOutputChannelOnAxisOneAndItsWeightsReadFromConstantNodes() {
        TensorProto weight = floats("deconv.w", new long[] {8, 6, 3, 3}, 0.2);
        NodeProto constant = NodeProto.newBuilder().setOpType("Constant").setName("deconv.w_const").addOutput("deconv.w")
                .addAttribute(AttributeProto.newBuilder().setName("value").setType(AttributeProto.AttributeType.TENSOR).setT(weight))
                .build();
        NodeProto deconv = NodeProto.newBuilder().setOpType("ConvTranspose").setName("deconv").addInput("x").addInput("deconv.w")
                .addOutput("y").addAttribute(AttributeProto.newBuilder().setName("strides").setType(AttributeProto.AttributeType.INTS)
                        .addInts(2).addInts(2)).build();
        OnnxModel model = model(List.of(value("x", 1, 8, 5, 5)), List.of(value("y", 1, 6, 11, 11)), List.of(constant, deconv), List.of());

        TechniqueResult result = QuantizeTechniqueTest.quantize(model, Map.of("bits", "8"));

        assertThat(result.report().layers()).singleElement().satisfies(layer -> {
            assertThat(layer.get("op")).isEqualTo("ConvTranspose");
            assertThat(layer.get("axis")).isEqualTo(1);
            assertThat(layer.get("scales")).isEqualTo(6);
        });
        assertThat(sqnr(model, result.model(), "x", new long[] {1, 8, 5, 5})).isGreaterThan(30);
    }
}
