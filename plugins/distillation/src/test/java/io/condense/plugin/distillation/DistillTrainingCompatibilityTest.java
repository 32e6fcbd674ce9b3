package io.condense.plugin.distillation;

import io.condense.sdk.data.Dataset;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.technique.Technique;
import io.condense.sdk.testkit.SharedData;
import io.condense.sdk.testkit.TrainingCompatibilityKit;
import java.util.Map;

/**
 * The test kit's training checks on {@code distill}: pytorch_cnn_mnist as the teacher of a student of half its width, 512
 * shared MNIST digits (461 after 10% are held out), one epoch of 15 batches of 32: about 20 progress events, so the kit's
 * cancellation after 3 is clearly a stop. The trainer is the host's, found with ServiceLoader.
 */
class DistillTrainingCompatibilityTest extends TrainingCompatibilityKit {

    @Override
    protected Technique technique() {
        return new DistillTechnique();
    }

    @Override
    protected Map<String, String> trainingParameters() {
        return Map.of("epochs", "1", "batch", "32", "lr", "0.0005");
    }

    @Override
    protected OnnxModel referenceModel() {
        return OnnxModel.load(SharedData.model("pytorch_cnn_mnist.onnx"));
    }

    @Override
    protected Dataset trainingData() {
        return SharedData.mnistDigits(512, 1f);
    }
}
