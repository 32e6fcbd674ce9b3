package io.condense.plugin.training;

import static org.assertj.core.api.Assertions.assertThat;

import ai.onnx.proto.OnnxMl.NodeProto;
import io.condense.plugin.binarization.BinarizeTechnique;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.technique.TechniqueResult;
import io.condense.sdk.training.TrainingOperators;
import java.util.Locale;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * XNOR W1-A1 through {@code finetune}: LeNet-300-100 trained in the test on 4,000 Fashion-MNIST images,
 * {@code binarize(activations=1)} (fc2 binary, reading Sign(x - b) of its input, b from the training data's channel means;
 * fc1 and fc3 float), then {@code finetune(epochs=2)} trains through the Sign (clipped straight-through), the thresholds and the
 * binary latents started from the kept float weights; the written model keeps the Sub, the Sign and the {-1, +1} levels, drops
 * the kept weights and runs in ONNX Runtime (10,000 test images).
 */
class BinaryActivationsFinetuneTest {

    @Test
    void finetuneTrainsThroughTheSignAndKeepsTheBinaryForm() {
        SmallFashionLeNet lenet = new SmallFashionLeNet();
        TechniqueResult binarized = lenet.apply(new BinarizeTechnique(), lenet.dense, Map.of("activations", "1"), true);
        OnnxModel binary = binarized.model();
        double before = lenet.accuracy(binary);
        TechniqueResult result = lenet.apply(new FinetuneTechnique(), binary, Map.of("epochs", "2"), true);
        OnnxModel written = OnnxModel.fromBytes(result.model().toBytes());
        double after = lenet.accuracy(written);
        System.out.printf(Locale.ROOT, "W1-A1: float %.4f, binarize(activations=1) %.4f, finetune(epochs=2) %.4f, binary MAC share %s%n",
                lenet.accuracy(lenet.dense), before, after, binarized.report().get("binary_mac_share"));
        assertThat(written.nodes()).extracting(NodeProto::getOpType).containsExactlyElementsOf(
                binary.nodes().stream().map(NodeProto::getOpType).toList());
        NodeProto sign = written.nodes().stream().filter(node -> node.getOpType().equals("Sign")).findFirst().orElseThrow();
        NodeProto layer = written.consumers(sign.getOutput(0)).get(0);
        String levels = written.producer(layer.getInput(1)).orElseThrow().getInput(0);
        int[] values = written.tensor(levels).toIntArray();
        for (int value : values) {
            assertThat(value).isIn(-1, 1);
        }
        assertThat(values).isNotEqualTo(binary.tensor(levels).toIntArray());
        assertThat(result.report().get("levels_kept")).isEqualTo(true);
        // the threshold b of Sign(x - b) started at the channel means of the training data and trained
        NodeProto sub = written.producer(sign.getInput(0)).orElseThrow();
        assertThat(sub.getOpType()).isEqualTo("Sub");
        assertThat(written.tensor(sub.getInput(1)).toFloatArray()).isNotEqualTo(binary.tensor(sub.getInput(1)).toFloatArray());
        // the binary latents started from the float weights binarize kept, which the written model no longer carries
        String kept = levels + TrainingOperators.BINARY_LATENT_SUFFIX;
        assertThat(binary.isInitializer(kept)).isTrue();
        assertThat(written.isInitializer(kept)).isFalse();
        assertThat(result.report().layers().stream().filter(entry -> levels.equals(entry.get("name"))).findFirst().orElseThrow()
                .get("latent_start")).isEqualTo("float_weights");
        assertThat(after).as("fine-tuning through the binary activations recovers accuracy").isGreaterThan(before + 0.02);
    }
}
