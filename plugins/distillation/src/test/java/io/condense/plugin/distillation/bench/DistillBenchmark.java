package io.condense.plugin.distillation.bench;

import io.condense.plugin.distillation.DistillTechnique;
import io.condense.sdk.data.Dataset;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.technique.TechniqueResult;
import io.condense.sdk.testkit.Evaluators;
import io.condense.sdk.testkit.FashionMnist;
import io.condense.sdk.testkit.LeNets;
import io.condense.sdk.testkit.TestStepContext;
import io.condense.sdk.testkit.Trainers;
import io.condense.sdk.training.LearningRateSchedule;
import io.condense.sdk.training.Optimizer;
import io.condense.sdk.training.Trainer;
import io.condense.sdk.training.TrainingRequest;
import io.condense.sdk.eval.EvaluationRequest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The distillation figure on the full Fashion-MNIST (a benchmark command, not a test): a LeNet-5 teacher trained
 * by Condense's runtime (60,000 images, 10 epochs, SGD momentum 0.9, cosine 0.05 to 0, seed 1; read from the model folder
 * when a previous run saved it), then {@code distill(width=..., compare=true, ...)} through the real technique for each
 * setting and seed: the same derived student trained twice for the same epochs, once against the teacher and once on the
 * labels alone, both measured in ONNX Runtime on the 10,000 test images (the job's evaluation data).
 *
 * <p>Arguments: model folder, distill settings separated by {@code ;} (each {@code name=value,name=value}), seeds
 * ({@code 1,2,3}). {@code mvn -q -B -pl plugins/distillation -am test-compile -Ddistill-benchmark} (see the README).
 */
public final class DistillBenchmark {
    private DistillBenchmark() {
    }

    public static void main(String[] args) {
        if (org.slf4j.LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME) instanceof ch.qos.logback.classic.Logger root) {
            root.setLevel(ch.qos.logback.classic.Level.WARN);
        }
        Path models = Path.of(args.length > 0 ? args[0] : "target/lenet");
        String[] settings = (args.length > 1 ? args[1] : "width=0.25,init=teacher;width=0.25,init=random").split(";");
        String[] seeds = (args.length > 2 ? args[2] : "1,2,3").split(",");
        Dataset train = FashionMnist.split("train", 60_000);
        Dataset test = FashionMnist.split("t10k", 10_000);
        Trainer trainer = Trainers.fromServiceLoader();
        OnnxModel teacher = teacher(models, train, trainer);
        double teacherAccuracy = Evaluators.fromServiceLoader().compare(teacher, teacher, EvaluationRequest.of(test, test.size()))
                .accuracyAfter().orElseThrow();
        System.out.printf(Locale.ROOT, "teacher LeNet-5: test accuracy %.4f (ONNX Runtime, 10,000 images); PyTorch threads %s%n",
                teacherAccuracy, System.getProperty("ai.djl.pytorch.num_threads", "(default)"));

        List<String> rows = new ArrayList<>();
        for (String setting : settings) {
            for (String seed : seeds) {
                Map<String, String> parameters = new LinkedHashMap<>();
                for (String pair : setting.split(",")) {
                    String[] parts = pair.split("=", 2);
                    parameters.put(parts[0].trim(), parts[1].trim());
                }
                parameters.putIfAbsent("validation", "0");
                parameters.put("compare", "true");
                parameters.put("seed", seed);
                long started = System.nanoTime();
                TechniqueResult result;
                try (TestStepContext context = TestStepContext.builder().technique(new DistillTechnique(), parameters)
                        .trainingData(train).evaluationData(test).trainer(trainer).build()) {
                    result = new DistillTechnique().apply(teacher, context.parameters(), context);
                }
                Map<String, Object> report = result.report().values();
                String row = String.format(Locale.ROOT, "| `%s` | %s | %s | %s | %.4f | %.4f | %+.2f | %.0f |", setting, seed,
                        report.get("student_parameters"), report.get("params_ratio"), number(report.get("accuracy_distilled")),
                        number(report.get("accuracy_labels_only")), 100 * (number(report.get("accuracy_distilled"))
                                - number(report.get("accuracy_labels_only"))), (System.nanoTime() - started) / 1e9);
                System.out.println(row);
                rows.add(row);
            }
        }
        System.out.println();
        System.out.println("| distill setting (alpha, temperature, epochs: defaults unless given) | seed | student parameters | params ratio | distilled | labels only | gain (points) | seconds |");
        System.out.println("|---|---|---|---|---|---|---|---|");
        rows.forEach(System.out::println);
    }

    private static double number(Object value) {
        return ((Number) value).doubleValue();
    }

    private static OnnxModel teacher(Path folder, Dataset train, Trainer trainer) {
        Path file = folder.resolve("lenet-5-10-epochs.onnx");
        if (Files.isRegularFile(file)) {
            System.out.println("teacher: read " + file.toAbsolutePath());
            return OnnxModel.load(file);
        }
        System.out.println("teacher: training LeNet-5 on 60,000 images, 10 epochs");
        OnnxModel trained = trainer.train(TrainingRequest.builder(LeNets.leNet5(1), train).epochs(10).batchSize(64).seed(1)
                .optimizer(Optimizer.sgd(0.9, 0)).schedule(new LearningRateSchedule.Cosine(0.05, 0.001)).build()).model();
        try {
            Files.createDirectories(folder);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        trained.save(file);
        return trained;
    }
}
