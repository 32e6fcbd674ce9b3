package io.condense.plugin.training;

import io.condense.plugin.binarization.TernarizeTechnique;
import io.condense.sdk.data.Dataset;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.technique.Technique;
import io.condense.sdk.testkit.SharedData;
import io.condense.sdk.testkit.TestStepContext;
import io.condense.sdk.testkit.TrainingCompatibilityKit;
import java.util.Map;

/** The test kit's training checks on {@code finetune} of a TTQ model: pytorch_cnn_mnist after {@code ternarize(method=ttq)}. */
class FinetuneTtqCompatibilityTest extends TrainingCompatibilityKit {

    @Override
    protected Technique technique() {
        return new FinetuneTechnique();
    }

    @Override
    protected Map<String, String> trainingParameters() {
        return Map.of("epochs", "2", "batch", "32", "lr", "0.0005");
    }

    @Override
    protected OnnxModel referenceModel() {
        OnnxModel model = OnnxModel.load(SharedData.model("pytorch_cnn_mnist.onnx"));
        TernarizeTechnique ternarize = new TernarizeTechnique();
        try (TestStepContext context = TestStepContext.builder().technique(ternarize, Map.of("method", "ttq", "keep_first_last", "false"))
                .build()) {
            return ternarize.apply(model, context.parameters(), context).model();
        }
    }

    @Override
    protected Dataset trainingData() {
        return SharedData.mnistDigits(512, 1f);
    }
}
