package io.condense.plugin.quantization;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import io.condense.sdk.data.Dataset;
import io.condense.sdk.data.NdArray;
import io.condense.sdk.eval.InferenceSession;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.quantization.ActivationCalibrator;
import io.condense.sdk.testkit.SharedData;
import io.condense.sdk.testkit.TestStepContext;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class LayerOutputErrorsTest {
    @Test
    void theMergedGraphMeasuresWhatTheTwoModelsGiveApart() {
        // an opset-9 export whose quantized model is opset 13: the float copy is upgraded inside the merged graph
        OnnxModel original = OnnxModel.load(SharedData.model("pytorch_cnn_mnist.onnx"));
        Dataset digits = SharedData.mnistDigits(40, 1f);
        OnnxModel quantized = StaticActivationQuantizationTest.quantize(original, Map.of("activations", "true"), digits).model();
        assertThat(original.opsetVersion("")).hasValue(9L);
        List<String> values = new ArrayList<>();
        for (NodeProto node : original.nodes()) {
            if (node.getOpType().equals("Relu") || node.getOpType().equals("Gemm")) {
                values.add(node.getOutput(0));
            }
        }
        values.add(original.inputs().get(0).getName());
        values.add("no such value");
        assertThat(values).hasSizeGreaterThan(4);

        try (TestStepContext context = TestStepContext.builder().technique(new QuantizeTechnique(), Map.of()).build()) {
            // 40 digits: runs of up to 64, so one run of 1 and one of 39
            LayerOutputErrors.Measured measured = LayerOutputErrors.measure(original, quantized, values, true, digits, 40, context);
            assertThat(measured.samples()).isEqualTo(40);
            assertThat(measured.layers()).doesNotContainKey("no such value").hasSize(values.size() - 1);
            assertThat(measured.layers().get(original.inputs().get(0).getName())).isEqualTo(Double.POSITIVE_INFINITY);

            // the same sums from the two models run apart, every value copied out and summed here
            Map<String, double[]> sums = new java.util.LinkedHashMap<>();
            double[] outputSums = new double[2];
            List<String> inner = values.subList(0, values.size() - 2);
            try (InferenceSession before = context.evaluator().orElseThrow().open(ActivationCalibrator.exposing(original, inner));
                    InferenceSession after = context.evaluator().orElseThrow().open(ActivationCalibrator.exposing(quantized, inner));
                    InferenceSession fused = context.evaluator().orElseThrow().open(quantized)) {
                String input = before.inputs().get(0).name();
                for (int i = 0; i < 40; i++) {
                    Map<String, NdArray> feed = Map.of(input, ActivationCalibrator.batchInput(digits, i, 1, before.inputs().get(0)));
                    Map<String, NdArray> expected = before.run(feed);
                    Map<String, NdArray> actual = after.run(feed);
                    for (String value : inner) {
                        add(expected.get(value), actual.get(value), sums.computeIfAbsent(value, v -> new double[2]));
                    }
                    Map<String, NdArray> deployed = fused.run(feed);
                    for (ValueInfoProto output : original.outputs()) {
                        add(expected.get(output.getName()), deployed.get(output.getName()), outputSums);
                    }
                }
            }
            for (String value : inner) {
                double[] sum = sums.get(value);
                double apart = 10 * Math.log10(sum[0] / sum[1]);
                System.out.printf("%s: merged %.4f dB, apart %.4f dB%n", value, measured.layers().get(value), apart);
                assertThat(measured.layers().get(value)).as(value).isCloseTo(apart, within(0.01));
            }
            double outputApart = 10 * Math.log10(outputSums[0] / outputSums[1]);
            System.out.printf("output SQNR: merged pass %.4f dB, apart %.4f dB%n", measured.outputSqnrDb(), outputApart);
            assertThat(measured.outputSqnrDb()).isCloseTo(outputApart, within(0.01));
        }
    }

    private static void add(NdArray left, NdArray right, double[] sums) {
        float[] a = left.toFloatArray();
        float[] b = right.toFloatArray();
        for (int i = 0; i < a.length; i++) {
            sums[0] += (double) a[i] * a[i];
            sums[1] += ((double) a[i] - b[i]) * ((double) a[i] - b[i]);
        }
    }
}
