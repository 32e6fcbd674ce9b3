package io.condense.plugin.binarization;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;
import static org.assertj.core.api.Assertions.within;

import ai.onnx.proto.OnnxMl.NodeProto;
import io.condense.sdk.data.Dataset;
import io.condense.sdk.data.NdArray;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.eval.EvaluationRequest;
import io.condense.sdk.eval.InferenceSession;
import io.condense.sdk.eval.ValueSpec;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.quantization.ActivationCalibrator;
import io.condense.sdk.stats.ModelStats;
import io.condense.sdk.technique.TechniqueResult;
import io.condense.sdk.testkit.Evaluators;
import io.condense.sdk.testkit.SharedData;
import io.condense.sdk.training.TrainingOperators;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * {@code binarize(activations=1)} (XNOR-Net W1-A1) on pytorch_cnn_mnist: the inner layers (conv2, fc1) read
 * {@code Sign(x - b)} of their inputs and binary weights, the first and last stay float; each threshold b is its channel's
 * mean over the calibration digits, recomputed here in ONNX Runtime; the float weights are kept, unread, for finetune; the
 * report's binary MACs are those two layers' MACs, counted independently; ONNX Runtime runs the written model.
 */
class BinaryActivationsTest {
    private static final int CALIBRATION = 200;

    @Test
    void innerLayersReadSignOfTheirInputsAndTheReportCountsTheirMacs() {
        OnnxModel original = OnnxModel.load(SharedData.model("pytorch_cnn_mnist.onnx"));
        Dataset calibration = Models.calibrationDigitsFor("pytorch_cnn_mnist.onnx", CALIBRATION);
        TechniqueResult result = Models.apply(new BinarizeTechnique(), original, Map.of("activations", "1"), null, calibration);
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
                NodeProto sub = written.producer(written.producer(layer.getInput(0)).orElseThrow().getInput(0)).orElseThrow();
                assertThat(sub.getOpType()).as("what layer %d's Sign reads", i).isEqualTo("Sub");
                // the threshold is the channel's mean of the value it shifts, over the calibration digits, as the model runs
                float[] thresholds = written.tensor(sub.getInput(1)).toFloatArray();
                double[] means = channelMeans(written, sub.getInput(0), calibration);
                assertThat(thresholds).as("layer %d's thresholds, one per input channel", i).hasSize(means.length);
                for (int c = 0; c < means.length; c++) {
                    assertThat((double) thresholds[c]).as("layer %d channel %d", i, c).isCloseTo(means[c], within(1e-3 * (1 + Math.abs(means[c]))));
                }
                assertThat(written.tensor(sub.getInput(1)).shape()).isEqualTo(i == 1 ? new long[] {means.length, 1, 1} : new long[] {means.length});
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
                // the float weight is kept, read by no node, for finetune's latents
                String levelsName = written.producer(layer.getInput(1)).orElseThrow().getInput(0);
                String kept = levelsName + TrainingOperators.BINARY_LATENT_SUFFIX;
                assertThat(written.tensor(kept).toFloatArray()).isEqualTo(original.tensor(i == 1 ? "conv2.weight" : "fc1.weight").toFloatArray());
                assertThat(written.consumers(kept)).isEmpty();
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
    void binaryActivationsWithoutDataAreRefused() {
        OnnxModel original = OnnxModel.load(SharedData.model("pytorch_cnn_mnist.onnx"));
        CondenseException error = catchThrowableOfType(CondenseException.class,
                () -> Models.apply(new BinarizeTechnique(), original, Map.of("activations", "1")));
        assertThat(error.code()).isEqualTo(ErrorCode.DATA_REQUIRED);
        assertThat(error.getMessage()).contains("--calibration-data").contains("--train-data");
    }

    /** The mean of {@code value} per channel (axis 1) over the data, each sample run alone in ONNX Runtime. */
    private static double[] channelMeans(OnnxModel model, String value, Dataset data) {
        double[] sums = null;
        long perChannel = 0;
        try (InferenceSession session = Evaluators.fromServiceLoader().open(ActivationCalibrator.exposing(model, List.of(value)))) {
            ValueSpec input = session.inputs().get(0);
            for (int sample = 0; sample < data.size(); sample++) {
                NdArray output = session.run(Map.of(input.name(), ActivationCalibrator.sampleInput(data, sample, input))).get(value);
                int channels = (int) output.shape()[1];
                int inner = output.size() / channels;
                if (sums == null) {
                    sums = new double[channels];
                }
                for (int j = 0; j < output.size(); j++) {
                    sums[j / inner] += output.getFloat(j);
                }
                perChannel += inner;
            }
        }
        for (int c = 0; c < sums.length; c++) {
            sums[c] /= perChannel;
        }
        return sums;
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
