package io.condense.plugin.training;

import static org.assertj.core.api.Assertions.assertThat;

import io.condense.plugin.binarization.TernarizeTechnique;
import io.condense.sdk.data.Dataset;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.technique.Technique;
import io.condense.sdk.technique.TechniqueResult;
import io.condense.sdk.testkit.SharedData;
import io.condense.sdk.testkit.TestStepContext;
import io.condense.sdk.testkit.TrainingCompatibilityKit;
import io.condense.sdk.testkit.Trainers;
import java.util.Map;
import org.junit.jupiter.api.Test;

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

    /** Without epochs a TTQ model trains {@link FinetuneTechnique#TTQ_EPOCHS} (it underfits in 3); a given value wins. */
    @Test
    void aTtqModelTrainsTheTtqEpochsWhenNoneIsGiven() {
        assertThat(finetuned(Map.of("batch", "64")).report().get("epochs")).isEqualTo(FinetuneTechnique.TTQ_EPOCHS);
        assertThat(finetuned(Map.of("batch", "64", "epochs", "1")).report().get("epochs")).isEqualTo(1);
    }

    /**
     * Without distill_alpha a TTQ model distills from the job's float model ({@link FinetuneTechnique#TTQ_DISTILL_ALPHA} at
     * T = 1); not from a job's model that is itself TTQ, nor on a host that offers none; given values win.
     */
    @Test
    void aTtqModelDistillsFromTheFloatJobModelWhenNoDistillationIsGiven() {
        OnnxModel original = OnnxModel.load(SharedData.model("pytorch_cnn_mnist.onnx"));
        var distilled = finetuned(Map.of("epochs", "1"), original).report();
        assertThat(distilled.get("distill_alpha")).isEqualTo(FinetuneTechnique.TTQ_DISTILL_ALPHA);
        assertThat(distilled.get("distill_temperature")).isEqualTo(FinetuneTechnique.TTQ_DISTILL_TEMPERATURE);
        assertThat(finetuned(Map.of("epochs", "1"), null).report().get("distill_alpha")).isEqualTo(0.0);
        assertThat(finetuned(Map.of("epochs", "1"), referenceModel()).report().get("distill_alpha")).isEqualTo(0.0);
        assertThat(finetuned(Map.of("epochs", "1", "distill_alpha", "0"), original).report().get("distill_alpha")).isEqualTo(0.0);
        var given = finetuned(Map.of("epochs", "1", "distill_temperature", "2"), original).report();
        assertThat(given.get("distill_alpha")).isEqualTo(FinetuneTechnique.TTQ_DISTILL_ALPHA);
        assertThat(given.get("distill_temperature")).isEqualTo(2.0);
    }

    private TechniqueResult finetuned(Map<String, String> parameters) {
        return finetuned(parameters, null);
    }

    private TechniqueResult finetuned(Map<String, String> parameters, OnnxModel jobModel) {
        FinetuneTechnique finetune = new FinetuneTechnique();
        TestStepContext.Builder builder = TestStepContext.builder().trainingData(SharedData.mnistDigits(64, 1f))
                .trainer(Trainers.fromServiceLoader()).technique(finetune, parameters);
        if (jobModel != null) {
            builder.jobModel(jobModel);
        }
        try (TestStepContext context = builder.build()) {
            return finetune.apply(referenceModel(), context.parameters(), context);
        }
    }
}
