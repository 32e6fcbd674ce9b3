package io.condense.plugin.binarization;

import static org.assertj.core.api.Assertions.assertThat;

import io.condense.sdk.data.Dataset;
import io.condense.sdk.eval.EvaluationRequest;
import io.condense.sdk.eval.EvaluationResult;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.technique.Technique;
import io.condense.sdk.technique.TechniqueResult;
import io.condense.sdk.testkit.Evaluators;
import io.condense.sdk.testkit.SharedData;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Runs a technique on an MNIST model with 1,000 real digits as evaluation data and checks that the accuracy it
 * reports is what a fresh measurement of the written model gives. No threshold on the accuracy itself: without
 * fine-tuning binary and ternary weights lose accuracy, and the figures are printed for the README.
 */
final class Accuracy {
    private Accuracy() {
    }

    /** {@code settings}: parameters as {@code name=value} separated by ';'. */
    static void check(Technique technique, String name, String settings) {
        Map<String, String> values = new LinkedHashMap<>();
        for (String setting : settings.split(";")) {
            String[] pair = setting.split("=", 2);
            values.put(pair[0].trim(), pair[1].trim());
        }
        OnnxModel original = OnnxModel.load(SharedData.model(name));
        Dataset digits = Models.digitsFor(name);
        TechniqueResult result = Models.apply(technique, original, values, digits);
        @SuppressWarnings("unchecked")
        Map<String, Object> reported = (Map<String, Object>) result.report().get("evaluation");
        assertThat(reported).as("evaluation in the report of %s %s", technique.descriptor().id(), settings).isNotNull();

        OnnxModel written = OnnxModel.fromBytes(result.model().toBytes());
        EvaluationResult fresh = Evaluators.fromServiceLoader().compare(original, written, EvaluationRequest.of(digits, Models.DIGITS));
        System.out.printf("%s %s on %s: accuracy %.4f -> %.4f (top-1 agreement %.4f), %d layers changed, relative error %.4f, "
                        + "weights %s -> %s bytes packed, parameters %s -> %s bytes packed, file %s -> %s bytes%n",
                technique.descriptor().id(), settings, name, fresh.accuracyBefore().orElse(Double.NaN), fresh.accuracyAfter().orElse(Double.NaN),
                fresh.top1Agreement(), result.report().get("layers_changed"), result.report().get("relative_error"),
                result.report().get("weight_bytes_float"), result.report().get("weight_bytes_packed"),
                result.report().get("parameter_bytes_float"), result.report().get("parameter_bytes_packed"),
                result.report().get("model_bytes_before"), result.report().get("model_bytes_after"));
        assertThat(fresh.samples()).isEqualTo(Models.DIGITS);
        assertThat(reported.get("samples")).isEqualTo(Models.DIGITS);
        assertThat(reported.get("accuracy_before")).as("reported accuracy before").isEqualTo(fresh.accuracyBefore().getAsDouble());
        assertThat(reported.get("accuracy_after")).as("reported accuracy after").isEqualTo(fresh.accuracyAfter().getAsDouble());
        assertThat(reported.get("top1_agreement")).as("reported agreement").isEqualTo(fresh.top1Agreement());
        assertThat(fresh.accuracyBefore().getAsDouble()).as("the float model on the shared digits").isGreaterThan(0.98);
        assertThat(fresh.accuracyAfter().getAsDouble()).as("accuracy after (a number, whatever it is)").isBetween(0.0, 1.0);
    }
}
