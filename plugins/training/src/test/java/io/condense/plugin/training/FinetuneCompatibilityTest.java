package io.condense.plugin.training;

import io.condense.sdk.technique.Technique;
import io.condense.sdk.testkit.InvalidParameterCase;
import io.condense.sdk.testkit.SharedData;
import io.condense.sdk.testkit.TechniqueCompatibilityKit;
import io.condense.sdk.testkit.TestStepContext;
import io.condense.sdk.training.Trainer;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;

/**
 * The kit's invariants for {@code finetune}, with 200 shared MNIST digits as training data and the host's trainer.
 * Reference models: mnist8 (fixed batch 1, so batch=1) and pytorch_cnn_mnist; UltraFace is left out because
 * it is a detector: there are no class labels to fine-tune it on.
 */
class FinetuneCompatibilityTest extends TechniqueCompatibilityKit {
    private static final Trainer TRAINER = ServiceLoader.load(Trainer.class).findFirst().orElseThrow(
            () -> new IllegalStateException("no Trainer on the test class path: condense-training must be a test dependency"));

    @Override
    protected Technique technique() {
        return new FinetuneTechnique();
    }

    @Override
    protected Map<String, String> validParameters() {
        return Map.of("epochs", "1", "batch", "1", "lr", "0.001");
    }

    @Override
    protected List<Path> referenceModels() {
        return List.of(SharedData.model("mnist8/model.onnx"), SharedData.model("pytorch_cnn_mnist.onnx"));
    }

    @Override
    protected TestStepContext.Builder stepContext(Path model) {
        // mnist8 expects pixels in [0, 1], pytorch_cnn_mnist raw 0..255
        float scale = model.toString().contains("mnist8") ? 1f / 255 : 1f;
        return TestStepContext.builder().trainingData(SharedData.mnistDigits(200, scale)).trainer(TRAINER);
    }

    @Override
    protected List<InvalidParameterCase> invalidParameterCases() {
        return List.of(
                InvalidParameterCase.of("optimizer", "rmsprop"),
                InvalidParameterCase.of("schedule", "linear"),
                InvalidParameterCase.of("validation", "0.9"),
                InvalidParameterCase.of("epochs", "0"));
    }
}
