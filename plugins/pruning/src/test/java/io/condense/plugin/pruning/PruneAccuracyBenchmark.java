package io.condense.plugin.pruning;

import io.condense.sdk.data.Dataset;
import io.condense.sdk.data.NdArray;
import io.condense.sdk.data.Npy;
import io.condense.sdk.eval.InferenceSession;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.technique.TechniqueResult;
import io.condense.sdk.testkit.Evaluators;
import io.condense.sdk.testkit.SharedData;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Accuracy after pruning without fine-tuning, side by side: global and per-layer magnitude, SparseGPT (per layer and
 * with the global allocation), scope=sensitivity (magnitude and SparseGPT), 2:4 (magnitude and SparseGPT), and
 * PyTorch's own {@code torch.nn.utils.prune.global_unstructured} on the same weights of pytorch_cnn_mnist. Accuracy
 * on the first {@code digits} shared MNIST digits (at most 8,000); calibration uses 512 digits from 9,000 and the
 * sensitivity analysis 1,000 digits from 8,000, so nothing scored is seen by the technique.
 *
 * <p>{@code mvn -q -f plugins/pruning/pom.xml test-compile exec:exec@accuracy} (arguments: sparsities, digits, the
 * python script).
 */
public final class PruneAccuracyBenchmark {
    private static final String[][] VARIANTS = {
            {"magnitude, scope=layer", "scope=layer"},
            {"magnitude, scope=global", "scope=global"},
            {"sparsegpt, scope=layer", "method=sparsegpt"},
            {"sparsegpt, scope=global", "method=sparsegpt,scope=global"},
            {"magnitude, scope=sensitivity", "scope=sensitivity"},
            {"sparsegpt, scope=sensitivity", "method=sparsegpt,scope=sensitivity"}};

    private PruneAccuracyBenchmark() {
    }

    public static void main(String[] arguments) throws Exception {
        String[] sparsities = (arguments.length > 0 ? arguments[0] : "0.7,0.8,0.9").split(",");
        int digits = arguments.length > 1 ? Integer.parseInt(arguments[1]) : 8000;
        Path script = arguments.length > 2 ? Path.of(arguments[2]) : Path.of("src/test/python/torch_global_prune.py");
        if (digits > PruneDigits.SENSITIVITY_START) {
            throw new IllegalArgumentException("at most " + PruneDigits.SENSITIVITY_START + " digits: the later ones calibrate");
        }
        for (String name : new String[] {"pytorch_cnn_mnist.onnx", "mnist8/model.onnx"}) {
            OnnxModel original = OnnxModel.load(SharedData.model(name));
            double dense = PruneDigits.accuracy(name, original, original, digits);
            Map<String, String> torch = name.startsWith("pytorch") ? torchPeer(original, name, sparsities, digits, script) : Map.of();
            StringBuilder table = new StringBuilder(String.format(Locale.ROOT, "%n%s, accuracy on %d digits, dense %.4f, no fine-tuning%n",
                    name, digits, dense));
            table.append(String.format(Locale.ROOT, "| method | %s |%n|---|%s%n", String.join(" | ", sparsities), "---|".repeat(sparsities.length)));
            for (String[] variant : VARIANTS) {
                StringBuilder row = new StringBuilder("| " + variant[0] + " |");
                for (String sparsity : sparsities) {
                    Map<String, String> values = parameters(variant[1]);
                    values.put("sparsity", sparsity);
                    long start = System.nanoTime();
                    TechniqueResult result = PruneDigits.prune(name, original, values);
                    double accuracy = PruneDigits.accuracy(name, original, OnnxModel.fromBytes(result.model().toBytes()), digits);
                    System.err.printf(Locale.ROOT, "%s %s %s: %.4f, sparsity %.4f, %d ms, per layer %s%n", name, variant[0], sparsity,
                            accuracy, (double) result.report().get("sparsity"), (System.nanoTime() - start) / 1_000_000,
                            result.report().layers().stream().map(layer -> String.format(Locale.ROOT, "%.2f", (double) layer.get("sparsity"))).toList());
                    row.append(String.format(Locale.ROOT, " %.4f |", accuracy));
                }
                table.append(row).append('\n');
            }
            if (!torch.isEmpty()) {
                StringBuilder row = new StringBuilder("| PyTorch global_unstructured (L1) |");
                for (String sparsity : sparsities) {
                    row.append(" ").append(torch.getOrDefault(Double.toString(Double.parseDouble(sparsity)), "n/a")).append(" |");
                }
                table.append(row).append('\n');
            }
            for (String method : new String[] {"magnitude", "sparsegpt"}) {
                TechniqueResult result = PruneDigits.prune(name, original, parameters("pattern=2:4,method=" + method));
                table.append(String.format(Locale.ROOT, "pattern=2:4 method=%s: accuracy %.4f (sparsity %.4f)%n", method,
                        PruneDigits.accuracy(name, original, result.model(), digits), (double) result.report().get("sparsity")));
            }
            System.out.print(table);
            System.out.flush();
        }
    }

    private static Map<String, String> parameters(String text) {
        Map<String, String> values = new LinkedHashMap<>();
        for (String pair : text.split(",")) {
            String[] parts = pair.split("=");
            values.put(parts[0], parts[1]);
        }
        return values;
    }

    /** Runs the python script on the model's weights and the same digits; accuracy by sparsity as printed. */
    private static Map<String, String> torchPeer(OnnxModel original, String name, String[] sparsities, int digits, Path script)
            throws IOException, InterruptedException {
        Path folder = Files.createTempDirectory("prune-torch-");
        try {
            for (var initializer : original.graph().getInitializerList()) {
                var tensor = original.tensor(initializer.getName());
                Npy.write(folder.resolve(initializer.getName() + ".npy"), NdArray.ofFloats(tensor.shape(), tensor.toFloatArray()));
            }
            Dataset test = PruneDigits.test(name, digits);
            Npy.write(folder.resolve("digits.npy"), test.inputs());
            Npy.write(folder.resolve("labels.npy"), test.labels().orElseThrow());
            int referenceCount = Math.min(200, digits);
            NdArray referenceInputs = test.inputs().slice(0, referenceCount);
            try (InferenceSession session = Evaluators.fromServiceLoader().open(original)) {
                NdArray outputs = session.run(Map.of(session.inputs().get(0).name(), referenceInputs)).get(session.outputs().get(0).name());
                Npy.write(folder.resolve("reference_outputs.npy"), NdArray.ofFloats(outputs.shape(), outputs.toFloatArray()));
            }
            // the same layers as Condense prunes (default min_elements): the report of a global magnitude run names them
            TechniqueResult selection = PruneDigits.prune(name, original, Map.of("sparsity", "0.5", "scope", "global"));
            List<String> weights = new ArrayList<>();
            for (Map<String, Object> layer : selection.report().layers()) {
                weights.add((String) layer.get("weight"));
            }
            Files.writeString(folder.resolve("pruned_weights.txt"), String.join("\n", weights));
            Process process = new ProcessBuilder("/usr/bin/python3", script.toString(), folder.toString(), String.join(",", sparsities))
                    .redirectError(ProcessBuilder.Redirect.INHERIT).start();
            Map<String, String> accuracy = new LinkedHashMap<>();
            try (BufferedReader reader = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = reader.readLine()) != null) {
                    System.err.println("python: " + line);
                    String[] parts = line.trim().split("\\s+");
                    if (parts.length >= 4 && parts[0].equals("torch_global")) {
                        accuracy.put(Double.toString(Double.parseDouble(parts[1])), String.format(Locale.ROOT, "%.4f", Double.parseDouble(parts[2])));
                    }
                }
            }
            int exit = process.waitFor();
            if (exit != 0) {
                System.err.println("the PyTorch peer failed (exit " + exit + "); its column is left out");
            }
            return accuracy;
        } finally {
            try (var files = Files.list(folder)) {
                for (Path file : files.toList()) {
                    Files.deleteIfExists(file);
                }
            }
            Files.deleteIfExists(folder);
        }
    }
}
