package io.condense.plugin.quantization;

import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import io.condense.sdk.model.OnnxModel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** The operators ONNX Runtime (optimization level ALL) actually runs for a model: its optimized graph, saved and read back. */
final class RuntimeKernels {
    private RuntimeKernels() {
    }

    static Map<String, Integer> operatorCounts(OnnxModel model) throws Exception {
        Path directory = Files.createTempDirectory("condense-optimized");
        Path optimized = directory.resolve("optimized.onnx");
        try {
            OrtEnvironment environment = OrtEnvironment.getEnvironment();
            try (OrtSession.SessionOptions options = new OrtSession.SessionOptions()) {
                options.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
                options.setOptimizedModelFilePath(optimized.toString());
                try (OrtSession session = environment.createSession(model.toBytes(), options)) {
                    session.getInputNames();
                }
            }
            Map<String, Integer> counts = new TreeMap<>();
            for (NodeProto node : OnnxModel.load(optimized).nodes()) {
                counts.merge(node.getOpType(), 1, Integer::sum);
            }
            return counts;
        } finally {
            Files.deleteIfExists(optimized);
            Files.deleteIfExists(directory);
        }
    }

    private static final Pattern NODE_EVENT = Pattern.compile(
            "\"cat\"\\s*:\\s*\"Node\".*?\"dur\"\\s*:\\s*(\\d+).*?\"ts\"\\s*:\\s*(\\d+).*?\"name\"\\s*:\\s*\"[^\"]*_kernel_time\".*?\"op_name\"\\s*:\\s*\"([^\"]*)\"");
    private static final Pattern RUN_EVENT = Pattern.compile(
            "\"dur\"\\s*:\\s*(\\d+).*?\"ts\"\\s*:\\s*(\\d+).*?\"name\"\\s*:\\s*\"model_run\"");
    private static final int WARM_UP_RUNS = 5;

    /**
     * Microseconds per run spent in each operator type, largest first: ONNX Runtime's profiler (level ALL, one intra-op thread)
     * over {@code runs} runs of one float input after {@value #WARM_UP_RUNS} warm-up runs (their events dropped), the kernel times
     * summed per op type and divided by the run count.
     */
    static Map<String, Double> profile(OnnxModel model, float[] input, long[] shape, int runs) throws Exception {
        Path directory = Files.createTempDirectory("condense-profile");
        try {
            OrtEnvironment environment = OrtEnvironment.getEnvironment();
            String profileFile;
            try (OrtSession.SessionOptions options = new OrtSession.SessionOptions()) {
                options.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
                options.setIntraOpNumThreads(1);
                options.enableProfiling(directory.resolve("profile").toString());
                try (OrtSession session = environment.createSession(model.toBytes(), options);
                        OnnxTensor tensor = OnnxTensor.createTensor(environment, FloatBuffer.wrap(input), shape)) {
                    String name = session.getInputNames().iterator().next();
                    for (int run = 0; run < runs + WARM_UP_RUNS; run++) {
                        session.run(Map.of(name, tensor)).close();
                    }
                    profileFile = session.endProfiling();
                }
            }
            List<String> lines = Files.readAllLines(Path.of(profileFile));
            List<Long> runEnds = new ArrayList<>();
            for (String line : lines) {
                Matcher matcher = RUN_EVENT.matcher(line);
                if (matcher.find()) {
                    runEnds.add(Long.parseLong(matcher.group(2)) + Long.parseLong(matcher.group(1)));
                }
            }
            runEnds.sort(null);
            long warmUpEnd = runEnds.size() >= WARM_UP_RUNS ? runEnds.get(WARM_UP_RUNS - 1) : -1;
            Map<String, Double> microseconds = new TreeMap<>();
            for (String line : lines) {
                Matcher matcher = NODE_EVENT.matcher(line);
                if (matcher.find() && Long.parseLong(matcher.group(2)) > warmUpEnd) {
                    microseconds.merge(matcher.group(3), Double.parseDouble(matcher.group(1)) / runs, Double::sum);
                }
            }
            Files.deleteIfExists(Path.of(profileFile));
            Map<String, Double> sorted = new LinkedHashMap<>();
            microseconds.entrySet().stream().sorted(Map.Entry.<String, Double>comparingByValue().reversed())
                    .forEach(entry -> sorted.put(entry.getKey(), Math.round(entry.getValue() * 10) / 10.0));
            return sorted;
        } finally {
            try (var files = Files.list(directory)) {
                for (Path file : files.toList()) {
                    Files.deleteIfExists(file);
                }
            }
            Files.deleteIfExists(directory);
        }
    }
}
