package io.condense.plugin.coding.bench;

import io.condense.plugin.coding.EncodeTechnique;
import io.condense.sdk.coding.PackedModel;
import io.condense.sdk.data.Dataset;
import io.condense.sdk.eval.EvaluationRequest;
import io.condense.sdk.eval.Evaluator;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.technique.Parameters;
import io.condense.sdk.technique.Report;
import io.condense.sdk.technique.TechniqueResult;
import io.condense.sdk.testkit.Evaluators;
import io.condense.sdk.testkit.FashionMnist;
import io.condense.sdk.testkit.TestStepContext;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Stream;

/**
 * The coding stage on the Fashion-MNIST Deep Compression chain (a benchmark command, not a test): reads the models
 * plugins/training's FashionChains wrote (dense, pruned + fine-tuned, k-means shared, fine-tuned again), encodes the
 * last with {@code encode} (its defaults, then {@code entropy=zstd} for comparison), decodes the packed file and measures every stage's accuracy in ONNX Runtime on the 10,000
 * test images, the decoded model's included. Ratios are against the dense ONNX file.
 *
 * <p>Arguments: the FashionChains output folder (default plugins/training/target/fashion-chains), where to write the
 * packed files (default target/deep-compression).
 */
public final class DeepCompressionTable {
    /** The networks FashionChains writes: the two LeNets, and the paper's Caffe LeNet-5 when it was run. */
    private static final List<String> NETWORKS = List.of("lenet-300-100", "lenet-5", "lenet-5-caffe");

    private DeepCompressionTable() {
    }

    public static void main(String[] args) throws Exception {
        Path chains = Path.of(args.length > 0 ? args[0] : "../training/target/fashion-chains");
        Path out = Path.of(args.length > 1 ? args[1] : "target/deep-compression");
        Files.createDirectories(out);
        Dataset test = FashionMnist.split("t10k", 10_000);
        Evaluator evaluator = Evaluators.fromServiceLoader();
        List<String> rows = new ArrayList<>();
        for (String name : NETWORKS) {
            List<Path> files;
            try (Stream<Path> listing = Files.list(chains)) {
                files = listing.filter(p -> name.equals(network(p))).sorted().toList();
            }
            Path dense = files.stream().filter(p -> p.getFileName().toString().startsWith(name + "-dense")).findFirst().orElse(null);
            List<Path> stages = files.stream().filter(p -> p.getFileName().toString().contains("scope_global")).sorted(
                    (a, b) -> Integer.compare(a.getFileName().toString().length(), b.getFileName().toString().length())).toList();
            if (dense == null || stages.isEmpty()) {
                System.out.println(name + ": no FashionChains models in " + chains.toAbsolutePath() + "; run the fashion-chains command first");
                continue;
            }
            long denseBytes = Files.size(dense);
            double denseAccuracy = accuracy(evaluator, OnnxModel.load(dense), test);
            rows.add(row(name, "dense", denseBytes, denseBytes, denseAccuracy, denseAccuracy));
            for (Path stage : stages) {
                rows.add(row(name, chain(name, stage), Files.size(stage), denseBytes, accuracy(evaluator, OnnxModel.load(stage), test),
                        denseAccuracy));
            }
            Path last = stages.get(stages.size() - 1);
            OnnxModel input = OnnxModel.load(last);
            // encode with its defaults (the pipeline's last step), then the paper's Huffman coding and zstd for comparison
            for (Map<String, String> values : List.of(Map.<String, String>of(), Map.of("entropy", "huffman"), Map.of("entropy", "zstd"))) {
                EncodeTechnique encode = new EncodeTechnique();
                Parameters parameters = Parameters.validate(encode.descriptor().parameters(), values);
                TechniqueResult result;
                try (TestStepContext context = TestStepContext.builder().technique(encode, values).build()) {
                    result = encode.apply(input, parameters, context);
                }
                byte[] packed = result.packed().orElseThrow().toByteArray();
                String step = values.isEmpty() ? "encode" : "encode(entropy=" + values.get("entropy") + ")";
                Path packedFile = out.resolve(name + "-deep-compression" + (values.isEmpty() ? "" : "-" + values.get("entropy")) + ".cpk");
                Files.write(packedFile, packed);
                OnnxModel decoded = PackedModel.decode(Files.readAllBytes(packedFile));
                rows.add(row(name, chain(name, last) + " | " + step + " (decoded model)", packed.length, denseBytes,
                        accuracy(evaluator, decoded, test), denseAccuracy));
                Report report = result.report();
                System.out.printf(Locale.ROOT, "%s %s: %s%n", name, step, report.toJson());
            }
        }
        System.out.println();
        System.out.println("| model | chain | bytes | ratio vs dense | test accuracy | vs dense (points) |");
        System.out.println("|---|---|---|---|---|---|");
        rows.forEach(System.out::println);
    }

    /** The network a FashionChains file belongs to: the longest network name its file name starts with. */
    private static String network(Path file) {
        String fileName = file.getFileName().toString();
        return NETWORKS.stream().filter(name -> fileName.startsWith(name + "-")).max(java.util.Comparator.comparingInt(String::length))
                .orElse(null);
    }

    private static String chain(String name, Path file) {
        return file.getFileName().toString().substring(name.length() + 1).replace(".onnx", "");
    }

    private static double accuracy(Evaluator evaluator, OnnxModel model, Dataset test) {
        return evaluator.compare(model, model, EvaluationRequest.of(test, test.size())).accuracyAfter().orElseThrow();
    }

    private static String row(String name, String chain, long bytes, long denseBytes, double accuracy, double denseAccuracy) {
        return String.format(Locale.ROOT, "| %s | `%s` | %,d | %.2fx | %.4f | %+.2f |", name, chain, bytes, (double) denseBytes / bytes,
                accuracy, 100 * (accuracy - denseAccuracy));
    }
}
