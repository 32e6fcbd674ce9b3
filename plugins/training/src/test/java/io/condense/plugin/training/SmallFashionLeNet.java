package io.condense.plugin.training;

import io.condense.sdk.data.Dataset;
import io.condense.sdk.eval.EvaluationRequest;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.technique.Technique;
import io.condense.sdk.technique.TechniqueResult;
import io.condense.sdk.testkit.Evaluators;
import io.condense.sdk.testkit.FashionMnist;
import io.condense.sdk.testkit.TestStepContext;
import io.condense.sdk.training.LearningRateSchedule;
import io.condense.sdk.training.Optimizer;
import io.condense.sdk.training.Trainer;
import io.condense.sdk.training.TrainingRequest;
import java.util.Map;
import java.util.ServiceLoader;

/**
 * What the trained low-bit tests share: LeNet-300-100 trained by the host's trainer on the first 4,000 Fashion-MNIST
 * training images (2 epochs, seed 1), accuracy in ONNX Runtime on all 10,000 test images of the model read back from
 * bytes, and techniques run as a pipeline step would.
 */
final class SmallFashionLeNet {
    static final int TEST_SAMPLES = 10_000;

    final Trainer trainer = ServiceLoader.load(Trainer.class).findFirst().orElseThrow();
    final Dataset train = FashionMnist.split("train", 4_000);
    final Dataset test = FashionMnist.split("t10k", TEST_SAMPLES);
    final OnnxModel dense = trainer.train(TrainingRequest.builder(Models.leNet300100(1), train)
            .optimizer(Optimizer.sgd(0.9, 0)).schedule(new LearningRateSchedule.Cosine(0.05, 0.001))
            .epochs(2).batchSize(64).seed(1).build()).model();

    double accuracy(OnnxModel model) {
        OnnxModel written = OnnxModel.fromBytes(model.toBytes());
        return Evaluators.fromServiceLoader().compare(written, written, EvaluationRequest.of(test, TEST_SAMPLES)).accuracyAfter()
                .orElseThrow();
    }

    /** Runs {@code technique}; with {@code training} the job's training data is the 4,000 images and the trainer is there. */
    TechniqueResult apply(Technique technique, OnnxModel model, Map<String, String> parameters, boolean training) {
        TestStepContext.Builder context = TestStepContext.builder().technique(technique, parameters);
        if (training) {
            context.trainingData(train).trainer(trainer);
        }
        try (TestStepContext built = context.build()) {
            return technique.apply(model, built.parameters(), built);
        }
    }
}
