package io.condense.it;

import static org.assertj.core.api.Assertions.assertThat;

import io.condense.sdk.data.Dataset;
import io.condense.sdk.data.Idx;
import io.condense.sdk.data.NdArray;
import io.condense.sdk.data.Npy;
import io.condense.sdk.eval.EvaluationRequest;
import io.condense.sdk.eval.EvaluationResult;
import io.condense.sdk.eval.Evaluator;
import io.condense.sdk.eval.InferenceSession;
import io.condense.sdk.eval.ValueSpec;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.model.WeightLayer;
import io.condense.sdk.testkit.Evaluators;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What a user does with {@code ./condense}: the packaged command line ({@code server/service/target/condense-server.jar}
 * and its {@code lib}, the classpath the launcher runs) in its own JVM, with the repository's real plugin archives
 * ({@code build/plugins}) and no server, so it starts the whole embedded platform (Kafka, API, worker with the
 * training runtime) itself:
 *
 * <pre>
 * condense compress pytorch_cnn_mnist.onnx --pipeline "prune(sparsity=0.9, scope=layer) | finetune(epochs=1, ...)" -o out.onnx
 *     --report report.json --train-data train.npy --train-labels train-labels.npy --eval-data eval.npy --eval-labels eval-labels.npy
 * </pre>
 *
 * on a real PyTorch-exported CNN and real MNIST digits (the first 8,000 shared digits to train on, the last 2,000 to
 * evaluate on). It must exit 0 and write a model that ONNX Runtime loads and runs with the original's inputs and
 * outputs, that kept the 90% sparsity prune gave every pruned layer, and whose report shows finetune raising the
 * pruned model's accuracy on the evaluation digits.
 */
class CompressFinetuneCliIT {
    private static final int TRAIN = 8_000;
    private static final int EVALUATE = 2_000;
    private static final String PIPELINE = "prune(sparsity=0.9, scope=layer) | finetune(epochs=1, lr=0.0005, batch=32, validation=0)";

    @Test
    @SuppressWarnings("unchecked")
    void pruneThenFinetuneThroughTheCommandLineKeepsSparsityAndRecoversAccuracy(@TempDir Path folder) throws Exception {
        Path model = TestEnvironment.sharedFolder().resolve("models/pytorch_cnn_mnist.onnx");
        NdArray images = Idx.read(TestEnvironment.digitImages());
        NdArray labels = Idx.read(TestEnvironment.digitLabels());
        Path trainImages = write(folder.resolve("train.npy"), images.slice(0, TRAIN));
        Path trainLabels = write(folder.resolve("train-labels.npy"), labels.slice(0, TRAIN));
        Path evalImages = write(folder.resolve("eval.npy"), images.slice(TRAIN, EVALUATE));
        Path evalLabels = write(folder.resolve("eval-labels.npy"), labels.slice(TRAIN, EVALUATE));
        Path output = folder.resolve("mnist-pruned-finetuned.onnx");
        Path reportFile = folder.resolve("report.json");

        Cli cli = Cli.run(folder, List.of("compress", model.toString(), "--pipeline", PIPELINE, "-o", output.toString(),
                "--report", reportFile.toString(), "--train-data", trainImages.toString(), "--train-labels", trainLabels.toString(),
                "--eval-data", evalImages.toString(), "--eval-labels", evalLabels.toString()));
        assertThat(cli.exitCode()).as("exit code of condense compress; its output:%n%s", cli.output()).isZero();
        assertThat(cli.output()).contains("completed").contains("Wrote " + output);

        // the written file loads and runs in ONNX Runtime with the original's inputs and outputs
        OnnxModel original = OnnxModel.load(model);
        OnnxModel written = OnnxModel.load(output);
        Evaluator evaluator = Evaluators.fromServiceLoader();
        try (InferenceSession before = evaluator.open(original); InferenceSession after = evaluator.open(written)) {
            assertThat(signature(after.inputs())).isEqualTo(signature(before.inputs()));
            assertThat(signature(after.outputs())).isEqualTo(signature(before.outputs()));
        }
        Dataset evaluation = Dataset.of(images.slice(TRAIN, EVALUATE), labels.slice(TRAIN, EVALUATE));
        EvaluationResult measured = evaluator.compare(original, written, EvaluationRequest.of(evaluation, EVALUATE));
        double writtenAccuracy = measured.accuracyAfter().orElseThrow();

        // prune's sparsity survived fine-tuning: every layer prune selected (>= 256 weights) is still at least 90% zeros
        List<String> pruned = new ArrayList<>();
        for (WeightLayer layer : written.weightLayers()) {
            float[] weights = written.tensor(layer.weightName()).toFloatArray();
            if (weights.length < 256) {
                continue;
            }
            long zeros = 0;
            for (float weight : weights) {
                if (weight == 0f) {
                    zeros++;
                }
            }
            assertThat((double) zeros / weights.length).as("share of zeros in %s after prune(0.9) | finetune", layer.weightName())
                    .isGreaterThanOrEqualTo(0.899);
            pruned.add(layer.weightName());
        }
        assertThat(pruned).as("pruned layers of pytorch_cnn_mnist").hasSizeGreaterThanOrEqualTo(2);

        // the report: finetune measured the pruned model and its own output on the evaluation digits, and raised it
        // (grpc-core's JSON reader, on this classpath anyway: objects as maps, numbers as doubles)
        Map<String, Object> report = (Map<String, Object>) io.grpc.internal.JsonParser.parse(
                Files.readString(reportFile, StandardCharsets.UTF_8));
        List<Map<String, Object>> steps = (List<Map<String, Object>>) report.get("steps");
        assertThat(steps).extracting(step -> step.get("technique")).containsExactly("prune", "finetune");
        Map<String, Object> finetune = (Map<String, Object>) steps.get(1).get("report");
        double before = ((Number) finetune.get("accuracy_before")).doubleValue();
        double after = ((Number) finetune.get("accuracy_after")).doubleValue();
        System.out.printf(java.util.Locale.ROOT, "%s: pruned %.4f, fine-tuned %.4f (ONNX Runtime here: %.4f, original %.4f)%n",
                PIPELINE, before, after, writtenAccuracy, measured.accuracyBefore().orElseThrow());
        assertThat(finetune).containsEntry("accuracy_measured_by", "onnxruntime").containsEntry("training_samples", (double) TRAIN);
        assertThat(((Number) finetune.get("evaluation_samples")).longValue()).isEqualTo(EVALUATE);
        assertThat(after).as("accuracy after finetune against the pruned model's %s", before).isGreaterThan(before + 0.01);
        assertThat(after).as("the report's accuracy after finetune is what ONNX Runtime measures on the written file")
                .isCloseTo(writtenAccuracy, org.assertj.core.data.Offset.offset(1e-9));
        assertThat(((Number) finetune.get("zeros_kept")).longValue()).isEqualTo(((Number) finetune.get("zeros_before")).longValue())
                .isPositive();
        assertThat(((Number) report.get("nonzero_params")).longValue()).as("non-zero parameters against the original's")
                .isLessThan(((Number) report.get("original_nonzero_params")).longValue() / 4);
    }

    private static Path write(Path file, NdArray array) {
        Npy.write(file, array);
        return file;
    }

    private static List<String> signature(List<ValueSpec> values) {
        return values.stream().map(v -> v.name() + " " + v.dataType() + " " + java.util.Arrays.toString(v.shape())).toList();
    }

    /** The packaged command line in a child JVM, as the ./condense launcher runs it. */
    private record Cli(int exitCode, String output) {
        static Cli run(Path folder, List<String> arguments) throws IOException, InterruptedException {
            Path log = folder.resolve("condense-cli.log");
            List<String> command = new ArrayList<>(List.of(
                    Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    "-Xmx1g",
                    "-Dcondense.plugins.dir=" + pluginsFolder(),
                    // one PyTorch thread: the machines share 2 cores between builds
                    "-Dai.djl.pytorch.num_threads=1",
                    "-Dai.djl.pytorch.num_interop_threads=1",
                    "-cp", ServerProcess.packagedServerClasspath(),
                    "io.condense.server.cli.CondenseCommand"));
            command.addAll(arguments);
            ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile());
            // the training runtime unpacks PyTorch (about 430 MB) here once, as the plugin and server modules do in theirs
            Path cache = Path.of("target", "djl-cache").toAbsolutePath();
            builder.environment().put("DJL_CACHE_DIR", cache.toString());
            builder.environment().put("ENGINE_CACHE_DIR", cache.toString());
            Process process = builder.start();
            if (!process.waitFor(3, TimeUnit.MINUTES)) {
                process.destroyForcibly().waitFor();
                throw new AssertionError("condense compress did not finish in 3 minutes; its output:\n" + Files.readString(log));
            }
            return new Cli(process.exitValue(), Files.readString(log, StandardCharsets.UTF_8));
        }

        /** The repository's plugin archives, which must include pruning and training. */
        private static Path pluginsFolder() throws IOException {
            List<Path> archives = TestEnvironment.realPluginArchives();
            for (String family : List.of("pruning", "training")) {
                assertThat(archives).as("plugin archives in %s: build plugins/%s first", archives.get(0).getParent(), family)
                        .anyMatch(path -> path.getFileName().toString().startsWith(family + "-plugin-"));
            }
            return archives.get(0).getParent().toAbsolutePath();
        }
    }
}
