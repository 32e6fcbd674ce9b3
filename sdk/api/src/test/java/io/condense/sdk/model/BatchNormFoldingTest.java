package io.condense.sdk.model;

import static org.assertj.core.api.Assertions.assertThat;

import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import io.condense.sdk.Onnx;
import io.condense.sdk.SharedFiles;
import io.condense.sdk.tensor.Tensor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class BatchNormFoldingTest {
    @Test
    void foldsEveryBatchNormalizationOfUltraFaceAndKeepsItsOutputs() throws Exception {
        Path file = SharedFiles.require("models/ultraface/version-RFB-320.onnx");
        Path inputFile = SharedFiles.require("models/ultraface/test_data/img1_input_0.pb");
        OnnxModel model = OnnxModel.load(file);
        long before = count(model, "BatchNormalization");
        assertThat(before).isEqualTo(35);
        OnnxModel folded = model.edit().foldBatchNormalization().build();
        assertThat(count(folded, "BatchNormalization")).isZero();
        assertThat(folded.nodes()).hasSize(model.nodes().size() - 35);
        assertThat(count(folded, "Conv")).isEqualTo(count(model, "Conv"));

        Tensor input = Tensor.fromProto(TensorProto.parseFrom(Files.readAllBytes(inputFile)));
        String inputName = model.inputs().get(0).getName();
        List<float[]> expected = Onnx.run(model, inputName, input.shape(), input.toFloatArray());
        List<float[]> actual = Onnx.run(OnnxModel.fromBytes(folded.toBytes()), inputName, input.shape(), input.toFloatArray());
        for (int output = 0; output < expected.size(); output++) {
            assertThat(sqnrDb(expected.get(output), actual.get(output))).as("output %d", output).isGreaterThan(90);
        }
    }

    @Test
    void foldsGemmWithTransposedWeightAndBetaAndLeavesSharedOutputsAlone() {
        Random random = new Random(7);
        float[] weight = randoms(random, 12);
        float[] bias = randoms(random, 3);
        float[] scale = randoms(random, 3);
        float[] shift = randoms(random, 3);
        float[] mean = randoms(random, 3);
        float[] variance = {0.5f, 1.5f, 2.5f};
        var model = OnnxModel.of(Onnx.model(13, List.of(Onnx.value("x", 2, 4)), List.of(Onnx.value("y", 2, 3), Onnx.value("z", 2, 3)),
                List.of(Onnx.node("Gemm", List.of("x", "w", "b"), List.of("g"), Onnx.intAttribute("transB", 1),
                                Onnx.floatAttribute("beta", 0.5f)),
                        Onnx.node("BatchNormalization", List.of("g", "s", "t", "m", "v"), List.of("y"), Onnx.floatAttribute("epsilon", 1e-3f)),
                        // a second Gemm whose output is also read by an Add: its BatchNormalization must stay
                        Onnx.node("Gemm", List.of("x", "w"), List.of("h"), Onnx.intAttribute("transB", 1)),
                        Onnx.node("BatchNormalization", List.of("h", "s", "t", "m", "v"), List.of("k")),
                        Onnx.node("Add", List.of("h", "k"), List.of("z"))),
                List.of(Onnx.floats("w", new long[] {3, 4}, weight), Onnx.floats("b", new long[] {3}, bias),
                        Onnx.floats("s", new long[] {3}, scale), Onnx.floats("t", new long[] {3}, shift),
                        Onnx.floats("m", new long[] {3}, mean), Onnx.floats("v", new long[] {3}, variance))));
        OnnxModel folded = model.edit().foldBatchNormalization().build();
        assertThat(count(folded, "BatchNormalization")).isEqualTo(1);
        NodeProto gemm = folded.nodes().stream().filter(n -> n.getOpType().equals("Gemm") && n.getOutput(0).equals("y")).findFirst()
                .orElseThrow();
        assertThat(gemm.getAttributeList()).noneMatch(a -> a.getName().equals("beta"));
        // the shared weight w is still read by the second Gemm, so the folded one gets a new name
        assertThat(gemm.getInput(1)).isNotEqualTo("w");
        float[] input = randoms(random, 8);
        List<float[]> expected = Onnx.run(model, "x", new long[] {2, 4}, input);
        List<float[]> actual = Onnx.run(folded, "x", new long[] {2, 4}, input);
        for (int output = 0; output < 2; output++) {
            for (int i = 0; i < expected.get(output).length; i++) {
                assertThat(actual.get(output)[i]).isCloseTo(expected.get(output)[i], org.assertj.core.data.Offset.offset(1e-5f));
            }
        }
    }

    private static float[] randoms(Random random, int count) {
        float[] values = new float[count];
        for (int i = 0; i < count; i++) {
            values[i] = (float) random.nextGaussian();
        }
        return values;
    }

    private static long count(OnnxModel model, String op) {
        return model.nodes().stream().filter(node -> node.getOpType().equals(op)).count();
    }

    private static double sqnrDb(float[] expected, float[] actual) {
        double signal = 0;
        double noise = 0;
        for (int i = 0; i < expected.length; i++) {
            signal += (double) expected[i] * expected[i];
            double difference = (double) expected[i] - actual[i];
            noise += difference * difference;
        }
        return noise == 0 ? Double.POSITIVE_INFINITY : 10 * Math.log10(signal / noise);
    }
}
