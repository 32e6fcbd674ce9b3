package io.condense.plugin.quantization;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.onnxruntime.OrtException;
import io.condense.sdk.model.OnnxModel;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * int4 blocked weights on a real transformer: the character language model of {@link CharLanguageModel} (pre-LN
 * attention blocks, LayerNormalization, Softmax, Gather embeddings, opset 17), perplexity on held-out text in ONNX
 * Runtime before and after, with the parameters a user types. The full table is {@link CharLanguageModelBenchmark}'s.
 */
class CharLanguageModelTest {
    private static final CharLanguageModel LANGUAGE_MODEL = CharLanguageModel.load();
    /** The held-out windows train_char_lm.py evaluated in torch: the first 64 windows of {@code context} characters. */
    private static final int CHARACTERS = 64 * LANGUAGE_MODEL.context() + 1;

    @Test
    void floatPerplexityInOnnxRuntimeIsTheOneTorchMeasured() throws OrtException {
        double loss = LANGUAGE_MODEL.meanNegativeLogLikelihood(LANGUAGE_MODEL.onnx(), CHARACTERS);
        assertThat(loss).isCloseTo(LANGUAGE_MODEL.torchHeldOutLoss(), within(1e-3));
    }

    @Test
    void int4BlockRoundToNearestAndGptqStayNearFloatPerplexityInBothFormats() throws OrtException {
        OnnxModel original = LANGUAGE_MODEL.onnx();
        double floatPerplexity = LANGUAGE_MODEL.perplexity(original, CHARACTERS);
        Map<String, String> rtn = Map.of("bits", "4", "granularity", "block", "block", "32");
        double rtnQdq = perplexity(rtn, false);
        double rtnNbits = perplexity(Map.of("bits", "4", "granularity", "block", "block", "32", "format", "matmulnbits"), false);
        double gptq = perplexity(Map.of("bits", "4", "granularity", "block", "block", "32", "method", "gptq"), true);
        System.out.printf("char LM perplexity on %d held-out characters: float %.4f, int4 block 32 RTN %.4f (matmulnbits %.4f), GPTQ %.4f%n",
                CHARACTERS, floatPerplexity, rtnQdq, rtnNbits, gptq);
        assertThat(rtnQdq / floatPerplexity).isLessThan(1.05);
        assertThat(rtnNbits / rtnQdq).isCloseTo(1.0, within(0.005)); // the same levels, ONNX Runtime's own kernel
        assertThat(gptq / floatPerplexity).isLessThan(1.03); // issue 18's goal
    }

    @Test
    void excludeReachesTheEmbeddingTables() throws OrtException {
        java.util.Set<String> tables = EmbeddingTables.tables(LANGUAGE_MODEL.onnx()).keySet();
        assertThat(tables).hasSize(2);
        String token = tables.iterator().next();
        // one table by name: the other is still int8 per row
        OnnxModel one = LanguageModelSteps.apply(new QuantizeTechnique(), LANGUAGE_MODEL.onnx(),
                Map.of("bits", "8", "exclude", token), null);
        assertThat(EmbeddingTables.tables(one).keySet()).containsExactly(token);
        // every table: exclude_ops=Gather
        OnnxModel none = LanguageModelSteps.apply(new QuantizeTechnique(), LANGUAGE_MODEL.onnx(),
                Map.of("bits", "8", "exclude_ops", "Gather"), null);
        assertThat(EmbeddingTables.tables(none).keySet()).containsExactlyInAnyOrderElementsOf(tables);
        double floatPerplexity = LANGUAGE_MODEL.perplexity(LANGUAGE_MODEL.onnx(), CHARACTERS);
        assertThat(LANGUAGE_MODEL.perplexity(one, CHARACTERS) / floatPerplexity).isLessThan(1.01);
        assertThat(LANGUAGE_MODEL.perplexity(none, CHARACTERS) / floatPerplexity).isLessThan(1.01);
    }

    private static double perplexity(Map<String, String> values, boolean calibrated) throws OrtException {
        OnnxModel written = LanguageModelSteps.apply(new QuantizeTechnique(), LANGUAGE_MODEL.onnx(), values,
                calibrated ? LANGUAGE_MODEL.calibration() : null);
        // the token and position embedding tables are int8 per row too (embeddings=true by default): every Gather reads a DequantizeLinear
        assertThat(EmbeddingTables.tables(written)).isEmpty();
        assertThat(written.nodes()).filteredOn(node -> node.getOpType().equals("Gather") && node.getInput(0).endsWith("_dequantized"))
                .hasSize(2);
        return LANGUAGE_MODEL.perplexity(written, CHARACTERS);
    }
}
