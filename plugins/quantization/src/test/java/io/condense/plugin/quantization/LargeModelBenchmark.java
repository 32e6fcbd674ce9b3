package io.condense.plugin.quantization;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import io.condense.sdk.data.Npy;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.FloatBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Scale benchmark (run by hand, see the README): int4 block quantization of a generated model with the MatMul weights of
 * a 7B-class decoder ({@link DecoderWeightsModel}, 3.2 GB of float with 4 blocks, external data), by Condense and by ONNX
 * Runtime's own {@code matmul_nbits_quantizer} (python, {@code src/test/python/ort_matmul_nbits.py}) on the same file,
 * each in a process of its own, one after the other: wall time from loading to the saved file, MB/s of float weights,
 * peak heap and resident memory. Then both outputs run in ONNX Runtime on the same input and are compared with each
 * other (the same round-to-nearest levels should give the same outputs) and, with {@code verify-float}, with the float
 * model.
 *
 * <p>Arguments: folder, decoder blocks, runs (comma-separated: ort, ortgptq: ONNX Runtime's GPTQ on the gptq run's
 * calibration data, the same script given the data; rtn, gptq, sparsegpt: prune 2:4, calibration: GPTQ's calibration alone, see
 * {@link LargeModelRun}), python executable, heap of the Condense
 * runs, block size, verify-float (true/false).
 */
public final class LargeModelBenchmark {
    private static final Pattern FIELD = Pattern.compile("(\\w+)=([^\\s]+)");
    private static final Pattern JSON_FIELD = Pattern.compile("\"(\\w+)\":\\s*([0-9.eE+-]+)");

    private LargeModelBenchmark() {
    }

    public static void main(String[] args) throws Exception {
        Path folder = Path.of(args[0]);
        int layers = Integer.parseInt(args[1]);
        List<String> runs = List.of(args[2].split(","));
        String python = args[3];
        String heap = args[4];
        int block = Integer.parseInt(args[5]);
        boolean verifyFloat = Boolean.parseBoolean(args[6]);
        Path script = Path.of(args.length > 7 ? args[7] : "src/test/python/ort_matmul_nbits.py").toAbsolutePath();

        String name = "decoder" + layers + ".onnx";
        Path model = folder.resolve(name);
        long weightBytes = 4 * DecoderWeightsModel.parameters(layers);
        if (!Files.exists(model)) {
            long start = System.nanoTime();
            DecoderWeightsModel.write(folder, name, layers, 7);
            System.out.printf("generated %s: %d blocks, %,d MatMul parameters, %,d bytes of data in %.1f s%n", model, layers,
                    DecoderWeightsModel.parameters(layers), Files.size(folder.resolve(name + ".data")), (System.nanoTime() - start) / 1e9);
        }
        System.out.printf("model %s: %.2f GB of float MatMul weights; load average %s%n", model, weightBytes / 1e9, loadAverage());

        Map<String, Map<String, String>> results = new LinkedHashMap<>();
        Map<String, Path> outputs = new LinkedHashMap<>();
        for (String run : runs) {
            Path output = folder.resolve("out-" + run + "/" + name);
            Files.createDirectories(output.getParent());
            List<String> command = new ArrayList<>();
            if (run.equals("ort")) {
                command.addAll(List.of(python, script.toString(), model.toString(), output.toString(), Integer.toString(block), "4"));
            } else if (run.equals("ortgptq")) {
                // the calibration data Condense's gptq run generates, as a file ONNX Runtime's GPTQ reads
                Path calibration = folder.resolve("calibration.npy");
                Npy.write(calibration, LargeModelRun.calibration(DecoderWeightsModel.HIDDEN).inputs());
                command.addAll(List.of(python, script.toString(), model.toString(), output.toString(),
                        Integer.toString(block), "4", calibration.toString()));
            } else {
                Path argumentFile = folder.resolve("classpath.args");
                Files.writeString(argumentFile, "-cp \"" + System.getProperty("java.class.path") + "\"\n");
                command.addAll(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx" + heap,
                        "@" + argumentFile, LargeModelRun.class.getName(), run, model.toString(), output.toString(), Integer.toString(block)));
            }
            System.out.printf("run %s (load average %s): %s%n", run, loadAverage(), String.join(" ", command.subList(0, Math.min(4, command.size()))));
            Map<String, String> fields = runProcess(command);
            long outputBytes = folderBytes(output.getParent());
            fields.put("output_mb", Long.toString(outputBytes >> 20));
            results.put(run, fields);
            if (!run.equals("calibration")) {
                outputs.put(run, output);
            }
        }

        // outputs of runs not repeated here but left in the folder by an earlier invocation are verified too, named so
        for (String run : List.of("gptq", "ortgptq", "rtn", "ort", "sparsegpt")) {
            Path earlier = folder.resolve("out-" + run + "/" + name);
            if (!outputs.containsKey(run) && Files.exists(earlier)) {
                outputs.put(run + " (earlier run)", earlier);
            }
        }
        System.out.println();
        System.out.println("| run | wall time | MB/s of float weights | peak heap (sampled) | peak RSS (VmHWM) | RSS anon / file peaks | output |");
        System.out.println("|---|---|---|---|---|---|---|");
        for (Map.Entry<String, Map<String, String>> entry : results.entrySet()) {
            Map<String, String> fields = entry.getValue();
            double seconds = Double.parseDouble(fields.get("seconds"));
            String rss = fields.containsKey("rss_peak_mb") ? fields.get("rss_peak_mb") : String.format("%.0f", Double.parseDouble(fields.get("peak_rss_mb")));
            System.out.printf("| %s | %.1f s | %.1f | %s | %s MB | %s | %s MB |%n", label(entry.getKey()), seconds, weightBytes / 1e6 / seconds,
                    fields.containsKey("heap_peak_mb") ? fields.get("heap_peak_mb") + " MB" : "(python)", rss,
                    fields.containsKey("rss_anon_peak_mb") ? fields.get("rss_anon_peak_mb") + " / " + fields.get("rss_file_peak_mb") + " MB" : "-",
                    fields.get("output_mb"));
        }
        verify(model, outputs, verifyFloat);
    }

    private static String label(String run) {
        return switch (run) {
            case "ort" -> "ONNX Runtime matmul_nbits_quantizer (RTN, asymmetric)";
            case "ortgptq" -> "ONNX Runtime matmul_nbits_quantizer GPTQWeightOnlyQuantConfig (same calibration data)";
            case "sparsegpt" -> "Condense prune(method=sparsegpt, pattern=2:4, sequential=false)";
            case "rtn" -> "Condense quantize RTN";
            case "calibration" -> "Condense GPTQ calibration alone (one pass, Grams, Hessians)";
            default -> "Condense quantize GPTQ (generated calibration data)";
        };
    }

    private static Map<String, String> runProcess(List<String> command) throws IOException, InterruptedException {
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        Map<String, String> fields = new LinkedHashMap<>();
        try (BufferedReader reader = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
            String line;
            while ((line = reader.readLine()) != null) {
                System.out.println("    " + line);
                if (line.startsWith("RESULT ")) {
                    Matcher matcher = FIELD.matcher(line);
                    while (matcher.find()) {
                        fields.put(matcher.group(1), matcher.group(2));
                    }
                } else if (line.startsWith("{\"seconds\"")) {
                    Matcher matcher = JSON_FIELD.matcher(line);
                    while (matcher.find()) {
                        fields.put(matcher.group(1), matcher.group(2));
                    }
                }
            }
        }
        int exit = process.waitFor();
        if (exit != 0 || !fields.containsKey("seconds")) {
            throw new IllegalStateException("run failed (exit " + exit + "): " + command);
        }
        return fields;
    }

    /** Runs every output (and the float model) on one input; prints how far each is from the others. */
    private static void verify(Path model, Map<String, Path> outputs, boolean verifyFloat) throws OrtException {
        int tokens = 8;
        // drawn like GPTQ's calibration data (other values): GPTQ fits the layers to that distribution
        float[] input = LargeModelRun.activations(tokens, DecoderWeightsModel.HIDDEN, 1);
        Map<String, float[]> results = new LinkedHashMap<>();
        if (verifyFloat) {
            results.put("float", run(model, input, tokens));
        }
        for (Map.Entry<String, Path> entry : outputs.entrySet()) {
            results.put(entry.getKey(), run(entry.getValue(), input, tokens));
        }
        List<String> names = new ArrayList<>(results.keySet());
        for (int i = 0; i < names.size(); i++) {
            for (int j = i + 1; j < names.size(); j++) {
                float[] a = results.get(names.get(i));
                float[] b = results.get(names.get(j));
                double difference = 0;
                double energy = 0;
                double worst = 0;
                for (int k = 0; k < a.length; k++) {
                    double d = a[k] - b[k];
                    difference += d * d;
                    energy += (double) a[k] * a[k];
                    worst = Math.max(worst, Math.abs(d));
                }
                System.out.printf("outputs %s vs %s on [1, %d, %d]: relative RMS difference %.4g, max |difference| %.4g%n", names.get(i),
                        names.get(j), tokens, DecoderWeightsModel.HIDDEN, Math.sqrt(difference / energy), worst);
            }
        }
    }

    private static float[] run(Path model, float[] input, int tokens) throws OrtException {
        OrtEnvironment environment = OrtEnvironment.getEnvironment();
        try (OrtSession.SessionOptions options = new OrtSession.SessionOptions();
                OrtSession session = environment.createSession(model.toString(), options);
                OnnxTensor tensor = OnnxTensor.createTensor(environment, FloatBuffer.wrap(input), new long[] {1, tokens, DecoderWeightsModel.HIDDEN});
                OrtSession.Result result = session.run(Map.of(DecoderWeightsModel.INPUT, tensor))) {
            FloatBuffer buffer = ((OnnxTensor) result.get(0)).getFloatBuffer();
            float[] values = new float[buffer.remaining()];
            buffer.get(values);
            return values;
        }
    }

    private static long folderBytes(Path folder) throws IOException {
        try (Stream<Path> files = Files.list(folder)) {
            return files.mapToLong(file -> file.toFile().length()).sum();
        }
    }

    private static String loadAverage() {
        try {
            String[] parts = Files.readString(Path.of("/proc/loadavg")).trim().split("\\s+");
            return parts[0] + " " + parts[1] + " " + parts[2];
        } catch (IOException e) {
            return "?";
        }
    }
}
