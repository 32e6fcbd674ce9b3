package io.condense.plugin.pruning;

import io.condense.sdk.data.Dataset;
import io.condense.sdk.eval.EvaluationRequest;
import io.condense.sdk.eval.EvaluationResult;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.technique.Parameters;
import io.condense.sdk.technique.TechniqueResult;
import io.condense.sdk.testkit.Evaluators;
import io.condense.sdk.testkit.SharedData;
import io.condense.sdk.testkit.TestStepContext;
import java.util.Map;

/**
 * The shared MNIST digits split three ways so that nothing a technique sees is used to score it: accuracy on the
 * first digits, sensitivity (evaluation data) and calibration on digits further on.
 */
final class PruneDigits {
    static final int SENSITIVITY_START = 8000;
    static final int SENSITIVITY_COUNT = 1000;
    static final int CALIBRATION_START = 9000;
    static final int CALIBRATION_COUNT = 512;

    private PruneDigits() {
    }

    static float scale(String model) {
        return model.startsWith("mnist8") ? 1f / 255 : 1f;
    }

    /** The first {@code count} digits, for scoring. */
    static Dataset test(String model, int count) {
        return SharedData.mnistDigits(count, scale(model));
    }

    static Dataset slice(String model, int start, int count) {
        Dataset all = SharedData.mnistDigits(start + count, scale(model));
        return Dataset.of(all.inputs().slice(start, count), all.labels().orElseThrow().slice(start, count));
    }

    static Dataset calibration(String model) {
        return slice(model, CALIBRATION_START, CALIBRATION_COUNT);
    }

    static Dataset sensitivity(String model) {
        return slice(model, SENSITIVITY_START, SENSITIVITY_COUNT);
    }

    /** Prunes with the given parameters, the calibration digits and the sensitivity digits (with labels) offered. */
    static TechniqueResult prune(String model, OnnxModel original, Map<String, String> values) {
        PruneTechnique technique = new PruneTechnique();
        Parameters parameters = Parameters.validate(technique.descriptor().parameters(), values);
        try (TestStepContext context = TestStepContext.builder().technique(technique, values).calibrationData(calibration(model))
                .evaluationData(sensitivity(model)).build()) {
            return technique.apply(original, parameters, context);
        }
    }

    /** Accuracy of {@code candidate} on the first {@code count} digits. */
    static double accuracy(String model, OnnxModel original, OnnxModel candidate, int count) {
        EvaluationResult result = Evaluators.fromServiceLoader().compare(original, candidate, EvaluationRequest.of(test(model, count), count));
        return result.accuracyAfter().orElseThrow();
    }
}
