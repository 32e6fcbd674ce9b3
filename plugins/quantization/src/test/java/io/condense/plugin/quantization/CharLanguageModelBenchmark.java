package io.condense.plugin.quantization;

import ai.onnxruntime.OrtException;
import io.condense.plugin.lowrank.LowRankTechnique;
import io.condense.plugin.pruning.PruneTechnique;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.technique.Technique;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Perplexity of the character language model ({@link CharLanguageModel}) on its whole held-out text before and after each
 * technique, every step with the parameters a user types (the rest defaults); GPTQ and SparseGPT get the calibration
 * windows of training text (as {@code --calibration-data kjv_calibration_tokens.npy}). Run by hand (not in verify):
 * {@code mvn -pl plugins/quantization surefire:test -Dtest=CharLanguageModelBenchmark}; prints a Markdown table.
 */
class CharLanguageModelBenchmark {
    private record Step(String pipeline, Technique technique, Map<String, String> values, boolean calibrated) {
    }

    @Test
    void perplexityBeforeAndAfterEachTechnique() throws OrtException {
        CharLanguageModel languageModel = CharLanguageModel.load();
        OnnxModel original = languageModel.onnx();
        int characters = languageModel.heldOut().length();
        double floatPerplexity = languageModel.perplexity(original, characters);
        long floatBytes = original.toBytes().length;
        StringBuilder table = new StringBuilder("| pipeline | calibration data | perplexity | vs float | file bytes |\n|---|---|---|---|---|\n");
        table.append(String.format("| (float) | | %.4f | 1.000 | %,d |%n", floatPerplexity, floatBytes));
        for (Step step : steps()) {
            long started = System.nanoTime();
            OnnxModel written = LanguageModelSteps.apply(step.technique(), original, step.values(),
                    step.calibrated() ? languageModel.calibration() : null);
            double perplexity = languageModel.perplexity(written, characters);
            table.append(String.format("| `%s` | %s | %.4f | %.3f | %,d |%n", step.pipeline(), step.calibrated() ? "128 x 64 tokens" : "",
                    perplexity, perplexity / floatPerplexity, written.toBytes().length));
            System.out.printf("%s: perplexity %.4f (%.1f s)%n", step.pipeline(), perplexity, (System.nanoTime() - started) / 1e9);
        }
        System.out.println("held-out characters: " + characters + "\n" + table);
    }

    private static List<Step> steps() {
        return List.of(
                step("quantize(bits=8)", new QuantizeTechnique(), false, "bits", "8"),
                step("quantize(bits=4, granularity=block, block=32)", new QuantizeTechnique(), false,
                        "bits", "4", "granularity", "block", "block", "32"),
                step("quantize(bits=4, granularity=block, block=32, format=matmulnbits)", new QuantizeTechnique(), false,
                        "bits", "4", "granularity", "block", "block", "32", "format", "matmulnbits"),
                step("quantize(bits=4, granularity=block, block=32, method=gptq)", new QuantizeTechnique(), true,
                        "bits", "4", "granularity", "block", "block", "32", "method", "gptq"),
                step("quantize(bits=4, granularity=block, block=32, method=gptq, format=matmulnbits)", new QuantizeTechnique(), true,
                        "bits", "4", "granularity", "block", "block", "32", "method", "gptq", "format", "matmulnbits"),
                step("quantize(bits=3, granularity=block, block=32)", new QuantizeTechnique(), false,
                        "bits", "3", "granularity", "block", "block", "32"),
                step("quantize(bits=3, granularity=block, block=32, method=gptq)", new QuantizeTechnique(), true,
                        "bits", "3", "granularity", "block", "block", "32", "method", "gptq"),
                step("prune(pattern=2:4)", new PruneTechnique(), false, "pattern", "2:4"),
                step("prune(method=sparsegpt, pattern=2:4)", new PruneTechnique(), true, "method", "sparsegpt", "pattern", "2:4"),
                step("lowrank", new LowRankTechnique(), false));
    }

    private static Step step(String pipeline, Technique technique, boolean calibrated, String... values) {
        Map<String, String> map = new LinkedHashMap<>();
        for (int i = 0; i < values.length; i += 2) {
            map.put(values[i], values[i + 1]);
        }
        return new Step(pipeline, technique, map, calibrated);
    }
}
