package io.condense.plugin.quantization;

import static org.assertj.core.api.Assertions.assertThat;

import io.condense.plugin.pruning.PruneTechnique;
import io.condense.sdk.eval.EvaluationRequest;
import io.condense.sdk.eval.EvaluationResult;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.technique.Parameters;
import io.condense.sdk.technique.Technique;
import io.condense.sdk.technique.TechniqueResult;
import io.condense.sdk.testkit.Evaluators;
import io.condense.sdk.testkit.SharedData;
import io.condense.sdk.testkit.TestStepContext;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The two techniques chained as a pipeline would: prune, write, read, quantize, write, read, run. */
class PruneThenQuantizeTest {
    private static final int DIGITS = 1000;

    private static TechniqueResult apply(Technique technique, OnnxModel model, Map<String, String> values) {
        Parameters parameters = Parameters.validate(technique.descriptor().parameters(), values);
        try (TestStepContext context = TestStepContext.builder().technique(technique, values).build()) {
            return technique.apply(model, parameters, context);
        }
    }

    @ParameterizedTest(name = "{0} pruned to {1} ({2} scope)")
    @CsvSource({"mnist8/model.onnx, 0.5, layer", "pytorch_cnn_mnist.onnx, 0.5, layer", "mnist8/model.onnx, 0.8, global",
            "pytorch_cnn_mnist.onnx, 0.8, global"})
    void prunedThenQuantizedModelRunsAndAgrees(String name, String sparsity, String scope) {
        OnnxModel original = OnnxModel.load(SharedData.model(name));
        OnnxModel pruned = OnnxModel.fromBytes(apply(new PruneTechnique(), original, Map.of("sparsity", sparsity, "scope", scope))
                .model().toBytes());
        TechniqueResult quantizedResult = apply(new QuantizeTechnique(), pruned, Map.of());
        OnnxModel quantized = OnnxModel.fromBytes(quantizedResult.model().toBytes());

        EvaluationResult comparison = Evaluators.fromServiceLoader().compare(original, quantized,
                EvaluationRequest.of(SharedData.mnistDigits(DIGITS, name.startsWith("mnist8") ? 1f / 255 : 1f), DIGITS));
        System.out.printf("prune %s (" + scope + ") then quantize %s: agreement %.4f, accuracy %s -> %s, file %d -> %d -> %d bytes%n", sparsity, name,
                comparison.top1Agreement(), comparison.accuracyBefore(), comparison.accuracyAfter(), original.serializedSize(),
                pruned.serializedSize(), quantized.serializedSize());
        assertThat(comparison.samples()).isEqualTo(DIGITS);
        assertThat(comparison.top1Agreement()).as("agreement of %s pruned to %s then quantized", name, sparsity)
                .isGreaterThanOrEqualTo(Double.parseDouble(sparsity) > 0.6 ? 0.94 : 0.98);
        if (Double.parseDouble(sparsity) > 0.7) {
            assertThat(pruned.graph().getSparseInitializerCount()).as("sparse initializers written by prune").isPositive();
        }
        assertThat(quantized.graph().getSparseInitializerCount()).as("the sparse float weights were replaced").isZero();
        // the zeros survive quantization: pruned weights quantize to level 0
        for (var layer : quantizedResult.report().layers()) {
            String weight = (String) layer.get("weight");
            if (pruned.tensor(weight).countNonZero() < pruned.tensor(weight).elementCount()) {
                assertThat(quantized.tensor(weight + "_quantized").countNonZero()).isLessThanOrEqualTo(pruned.tensor(weight).countNonZero());
            }
        }
    }
}
