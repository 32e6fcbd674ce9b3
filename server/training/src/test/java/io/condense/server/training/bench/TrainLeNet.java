package io.condense.server.training.bench;

import io.condense.sdk.data.Dataset;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.training.LearningRateSchedule;
import io.condense.sdk.training.Optimizer;
import io.condense.sdk.training.TrainingListener;
import io.condense.sdk.training.TrainingRequest;
import io.condense.sdk.training.TrainingResult;
import io.condense.sdk.training.EpochSummary;
import io.condense.sdk.training.TrainingProgress;
import io.condense.server.training.Fixtures;
import io.condense.server.training.GraphBuilder;
import io.condense.server.training.PyTorchTrainer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * Trains LeNet-300-100 and LeNet-5 (built as ONNX graphs with seeded random weights) on Fashion-MNIST's 60,000
 * training images with Condense's own training runtime, reports the 10,000 test images' accuracy after every epoch,
 * and saves the trained models for later compression.
 *
 * <p>{@code mvn -q -pl server/training exec:exec@train-lenet} (after {@code mvn -q -pl server/training -am test-compile});
 * arguments: Fashion-MNIST folder, output folder, epochs.
 */
public final class TrainLeNet {
    private TrainLeNet() {
    }

    public static void main(String[] args) throws Exception {
        Path fashion = Path.of(args.length > 0 ? args[0] : Fixtures.DEFAULT_FASHION_DIR);
        Path output = Path.of(args.length > 1 ? args[1] : "target/lenet");
        int epochs = args.length > 2 ? Integer.parseInt(args[2]) : 3;
        Dataset train = Fixtures.fashion(fashion, "train");
        Dataset test = Fixtures.fashion(fashion, "t10k");
        Files.createDirectories(output);
        PyTorchTrainer trainer = new PyTorchTrainer();
        System.out.printf(Locale.ROOT, "Fashion-MNIST: %d training, %d test images; SGD momentum 0.9, cosine 0.05 -> 0.001, batch 64, %d epochs%n",
                train.size(), test.size(), epochs);
        for (String name : new String[] {"lenet-300-100", "lenet-5"}) {
            OnnxModel model = name.equals("lenet-5") ? GraphBuilder.leNet5(1) : GraphBuilder.leNet300100(1);
            double before = trainer.accuracy(model, test, 1f / 255, 500);
            System.out.printf(Locale.ROOT, "%s: test accuracy before training %.4f%n", name, before);
            TrainingResult result = trainer.train(TrainingRequest.builder(model, train).validationData(test).inputScale(1f / 255)
                    .epochs(epochs).batchSize(64).seed(1).optimizer(Optimizer.sgd(0.9, 0))
                    .schedule(new LearningRateSchedule.Cosine(0.05, 0.001)).listener(new TrainingListener() {
                        @Override
                        public void onBatch(TrainingProgress progress) {
                        }

                        @Override
                        public void onEpoch(EpochSummary summary) {
                            System.out.printf(Locale.ROOT, "%s epoch %d: loss %.4f, training accuracy %.4f, test accuracy %.4f (%.1f s, %.0f images/s)%n",
                                    name, summary.epoch() + 1, summary.loss(), summary.accuracy(),
                                    summary.validationAccuracy().orElseThrow(), summary.seconds(), summary.samplesPerSecond());
                        }
                    }).build());
            Path file = output.resolve(name + ".onnx");
            result.model().save(file);
            System.out.printf(Locale.ROOT, "%s: saved %s (test accuracy %.4f)%n", name, file.toAbsolutePath(),
                    result.lastEpoch().validationAccuracy().orElseThrow());
        }
    }
}
