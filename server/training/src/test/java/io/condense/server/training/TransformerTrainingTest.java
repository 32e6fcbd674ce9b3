package io.condense.server.training;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.condense.sdk.data.Dataset;
import io.condense.sdk.data.NdArray;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.testkit.TinyDecoder;
import io.condense.sdk.training.Trainer;
import io.condense.sdk.training.TrainingRequest;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * What the training runtime says of a transformer: a GPT-style decoder ({@link TinyDecoder}: Gather embeddings, Range
 * positions, LayerNormalization, a fused Q/K/V Split, MatMuls of two activations, Softmax, a Trilu/Equal/Where causal
 * mask) is refused before anything is trained, every operator it cannot interpret named at once, whatever the data.
 */
class TransformerTrainingTest {
    private static final Trainer TRAINER = new PyTorchTrainer();

    @Test
    void aDecoderIsRefusedNamingEveryOperatorTheRuntimeLacks() {
        OnnxModel model = TinyDecoder.build(1);
        // Gather, MatMul of two activations, Softmax, Reshape, Transpose, Shape, Slice, Unsqueeze, Concat are interpreted
        assertThat(TRAINER.unsupportedOperators(model)).containsExactly("Equal (1 node)", "LayerNormalization (3 nodes)",
                "Range (1 node)", "Split (1 node)", "Trilu (1 node)", "Where (1 node)");
        // token windows with one next-token label per position, as a language model trains
        Dataset windows = Dataset.of(NdArray.ofLongs(new long[] {4, TinyDecoder.CONTEXT}, new long[4 * TinyDecoder.CONTEXT]),
                NdArray.ofLongs(new long[] {4, TinyDecoder.CONTEXT}, new long[4 * TinyDecoder.CONTEXT]));
        assertThatThrownBy(() -> TRAINER.train(TrainingRequest.builder(model, windows).build()))
                .isInstanceOfSatisfying(CondenseException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.UNSUPPORTED_MODEL))
                .hasMessageContaining("cannot interpret Equal (1 node), LayerNormalization (3 nodes), Range (1 node)")
                .hasMessageContaining("nothing was trained");
    }

    @Test
    void theCharacterLanguageModelLacksErfLayerNormalizationAndRange() {
        // plugins/quantization's real transformer (its README, "A real transformer"), read from the checkout
        OnnxModel model = OnnxModel.load(Path.of("../../plugins/quantization/src/test/resources/char-lm/char_gpt.onnx"));
        assertThat(TRAINER.unsupportedOperators(model)).containsExactly("Erf (3 nodes)", "LayerNormalization (7 nodes)", "Range (1 node)");
    }
}
