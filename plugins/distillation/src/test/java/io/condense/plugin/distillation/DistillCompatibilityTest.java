package io.condense.plugin.distillation;

import static org.assertj.core.api.Assertions.assertThat;

import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.technique.Technique;
import io.condense.sdk.testkit.InvalidParameterCase;
import io.condense.sdk.testkit.SharedData;
import io.condense.sdk.testkit.TechniqueCompatibilityKit;
import io.condense.sdk.testkit.TestStepContext;
import io.condense.sdk.testkit.Trainers;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The kit's invariants for {@code distill} on pytorch_cnn_mnist (a real PyTorch-exported CNN, raw 0..255 pixels) with 200
 * shared MNIST digits and the host's trainer: one epoch, a student of half the width. mnist8 is left out (fixed batch 1),
 * UltraFace too (a detector: no class labels to distill on).
 */
class DistillCompatibilityTest extends TechniqueCompatibilityKit {
    private static final String STUDENT_ID = "uploaded-student";

    @Override
    protected Technique technique() {
        return new DistillTechnique();
    }

    @Override
    protected Map<String, String> validParameters() {
        return Map.of("epochs", "1", "batch", "32", "lr", "0.0005");
    }

    @Override
    protected List<Path> referenceModels() {
        return List.of(SharedData.model("pytorch_cnn_mnist.onnx"));
    }

    @Override
    protected TestStepContext.Builder stepContext(Path model) {
        return TestStepContext.builder().trainingData(SharedData.mnistDigits(200, 1f)).trainer(Trainers.fromServiceLoader())
                .uploadedModel(STUDENT_ID, OnnxModel.load(model));
    }

    @Test
    void theDerivedStudentHasAboutAQuarterOfTheParameters() {
        Map<String, Object> report = outcome(referenceModels().get(0)).orFail().result().report().values();
        assertThat(report).containsEntry("student", "derived").containsEntry("loss", "distillation");
        assertThat((double) report.get("params_ratio")).isBetween(0.1, 0.5);
    }

    @Override
    protected List<InvalidParameterCase> invalidParameterCases() {
        return List.of(
                InvalidParameterCase.of("width", "0"),
                InvalidParameterCase.of("temperature", "0"),
                InvalidParameterCase.of("alpha", "1.5"),
                InvalidParameterCase.of("init", "xavier"),
                new InvalidParameterCase(Map.of("optimizer", "adam", "momentum", "0.5"), "momentum"),
                new InvalidParameterCase(Map.of("student", STUDENT_ID, "width", "0.25"), "width"),
                InvalidParameterCase.whenRun(Map.of("student", "no-such-model"), "no-such-model"));
    }
}
