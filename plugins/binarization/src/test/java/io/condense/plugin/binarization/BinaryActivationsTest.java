package io.condense.plugin.binarization;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import ai.onnx.proto.OnnxMl.NodeProto;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.eval.EvaluationRequest;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.stats.ModelStats;
import io.condense.sdk.technique.TechniqueResult;
import io.condense.sdk.testkit.Evaluators;
import io.condense.sdk.testkit.SharedData;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * {@code binarize(activations=1)} (XNOR-Net W1-A1) on pytorch_cnn_mnist: the inner layers (conv2, fc1) read Sign of their
 * inputs and binary weights, the first and last stay float; the report's binary MACs are those two layers' MACs, counted
 * independently; ONNX Runtime runs the written model.
 */
class BinaryActivationsTest {

    @Test
    void innerLayersReadSignOfTheirInputsAndTheReportCountsTheirMacs() {
        OnnxModel original = OnnxModel.load(SharedData.model("pytorch_cnn_mnist.onnx"));
        TechniqueResult result = Models.apply(new BinarizeTechnique(), original, Map.of("activations", "1"));
        OnnxModel written = OnnxModel.fromBytes(result.model().toBytes());
        List<NodeProto> layers = written.nodes().stream().filter(node -> node.getOpType().equals("Conv") || node.getOpType().equals("Gemm"))
                .toList();
        assertThat(layers).hasSize(4);
        long binary = 0;
        ModelStats stats = ModelStats.of(written);
        for (int i = 0; i < layers.size(); i++) {
            NodeProto layer = layers.get(i);
            String producer = written.producer(layer.getInput(0)).map(NodeProto::getOpType).orElse("(graph input)");
            String weight = written.producer(layer.getInput(1)).map(NodeProto::getOpType).orElse("(initializer)");
            boolean inner = i == 1 || i == 2;
            if (inner) {
                assertThat(producer).as("what layer %d reads", i).isEqualTo("Sign");
            } else {
                assertThat(producer).as("what layer %d reads", i).isNotEqualTo("Sign");
            }
            assertThat(weight).as("layer %d's weight", i).isEqualTo(inner ? "DequantizeLinear" : "(initializer)");
            if (inner) {
                binary += stats.macsByNode().get(layer.getName().isEmpty() ? layer.getOutput(0) : layer.getName());
                int[] levels = written.tensor(written.producer(layer.getInput(1)).orElseThrow().getInput(0)).toIntArray();
                for (int level : levels) {
                    assertThat(level).isIn(-1, 1);
                }
            }
        }
        assertThat(result.report().get("activations")).isEqualTo("1");
        assertThat(result.report().get("sign_nodes")).isEqualTo(2);
        assertThat(result.report().get("binary_macs")).isEqualTo(binary);
        assertThat(result.report().get("macs")).isEqualTo(stats.macs());
        assertThat((double) result.report().get("binary_mac_share")).isEqualTo((double) binary / stats.macs()).isBetween(0.5, 1.0);
        assertThat(Evaluators.fromServiceLoader().compare(original, written, EvaluationRequest.of(Models.digitsFor("pytorch_cnn_mnist.onnx"),
                100)).samples()).as("ONNX Runtime runs the W1-A1 model").isEqualTo(100);
    }

    @Test
    void calibrationOptionsAreRefusedWithBinaryActivations() {
        OnnxModel original = OnnxModel.load(SharedData.model("pytorch_cnn_mnist.onnx"));
        CondenseException error = catchThrowableOfType(CondenseException.class,
                () -> Models.apply(new BinarizeTechnique(), original, Map.of("activations", "1", "calibration", "mse")));
        assertThat(error.code()).isEqualTo(ErrorCode.INVALID_PARAMETER);
        assertThat(error.getMessage()).contains("calibration").contains("activations=8");
    }
}
