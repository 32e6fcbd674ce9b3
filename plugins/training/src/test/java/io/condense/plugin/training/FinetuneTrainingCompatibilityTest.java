package io.condense.plugin.training;

import io.condense.sdk.data.Dataset;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.technique.Technique;
import io.condense.sdk.testkit.SharedData;
import io.condense.sdk.testkit.TrainingCompatibilityKit;
import java.util.Map;

/**
 * The test kit's training check on {@code finetune}: pytorch_cnn_mnist (a real PyTorch-exported CNN, raw 0..255 pixels)
 * fine-tuned on 512 shared MNIST digits (461 after finetune holds out 10%), 2 epochs of 15 batches of 32: about 35
 * progress events, so the kit's cancellation after 3 is clearly a stop. Gradual pruning to 80% and training with group lasso
 * and L1 are checked too.
 * The trainer is the host's, found with ServiceLoader (condense-training at test scope).
 */
class FinetuneTrainingCompatibilityTest extends TrainingCompatibilityKit {

    @Override
    protected Technique technique() {
        return new FinetuneTechnique();
    }

    @Override
    protected Map<String, String> trainingParameters() {
        return Map.of("epochs", "2", "batch", "32", "lr", "0.0005");
    }

    @Override
    protected Map<String, String> gradualPruningParameters() {
        return Map.of("sparsity", "0.8");
    }

    @Override
    protected Map<String, String> regularisedParameters() {
        return Map.of("group_lasso", "0.01", "l1", "0.0001");
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
