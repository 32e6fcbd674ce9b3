package io.condense.plugin.quantization;

import io.condense.sdk.data.Dataset;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.technique.Parameters;
import io.condense.sdk.technique.Technique;
import io.condense.sdk.technique.TechniqueResult;
import io.condense.sdk.testkit.TestStepContext;
import java.util.Map;

/** Runs one technique step on a model as a worker does: parameters validated (defaults filled), the host's evaluator. */
final class LanguageModelSteps {
    private LanguageModelSteps() {
    }

    /** The step's written model, read back from its bytes; {@code calibration} may be null (a job without data). */
    static OnnxModel apply(Technique technique, OnnxModel model, Map<String, String> values, Dataset calibration) {
        Parameters parameters = Parameters.validate(technique.descriptor().parameters(), values);
        TestStepContext.Builder builder = TestStepContext.builder().technique(technique, values);
        if (calibration != null) {
            builder.calibrationData(calibration);
        }
        try (TestStepContext context = builder.build()) {
            TechniqueResult result = technique.apply(model, parameters, context);
            return OnnxModel.fromBytes(result.model().toBytes());
        }
    }
}
