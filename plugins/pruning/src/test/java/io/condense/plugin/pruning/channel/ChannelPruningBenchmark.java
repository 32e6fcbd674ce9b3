package io.condense.plugin.pruning.channel;

import io.condense.sdk.data.Dataset;
import io.condense.sdk.data.NdArray;
import io.condense.sdk.eval.EvaluationRequest;
import io.condense.sdk.eval.EvaluationResult;
import io.condense.sdk.eval.InferenceSession;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.technique.TechniqueResult;
import io.condense.sdk.testkit.SharedData;
import io.condense.server.runtime.OnnxRuntimeEvaluator;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * ONNX Runtime latency of UltraFace RFB-320 before and after channel pruning, measured in the same run, with MACs,
 * parameters, file sizes and how many of the original's faces on the two photos the pruned detector still finds. A main,
 * not a test: {@code mvn -q -f plugins/pruning/pom.xml test-compile exec:exec@channel-benchmark} (see README.md).
 *
 * <p>Arguments: comma-separated sparsities (default 0.1,0.25,0.5), criterion (default l1), latency runs per model
 * (default 200), channel_multiple (default 8).
 */
public final class ChannelPruningBenchmark {
    private ChannelPruningBenchmark() {
    }

    public static void main(String[] args) {
        double[] sparsities = Arrays.stream((args.length > 0 ? args[0] : "0.1,0.25,0.5").split(",")).mapToDouble(Double::parseDouble).toArray();
        String criterion = args.length > 1 ? args[1] : "l1";
        int runs = args.length > 2 ? Integer.parseInt(args[2]) : 200;
        String multiple = args.length > 3 ? args[3] : "8";
        System.out.printf("ChannelPruningBenchmark %s: %d cores, load average %s, java %s, shared %s%n", Instant.now(),
                Runtime.getRuntime().availableProcessors(), loadAverage(), System.getProperty("java.version"), SharedData.directory());
        Path file = SharedData.model("ultraface/version-RFB-320.onnx");
        OnnxModel original = OnnxModel.load(file);
        NdArray first = UltraFaceDetections.photo(1);
        NdArray second = UltraFaceDetections.photo(2);
        float[] both = new float[first.size() + second.size()];
        System.arraycopy(first.toFloatArray(), 0, both, 0, first.size());
        System.arraycopy(second.toFloatArray(), 0, both, first.size(), second.size());
        long[] shape = first.shape().clone();
        shape[0] = 2;
        Dataset photos = Dataset.of(NdArray.ofFloats(shape, both));

        for (double sparsity : sparsities) {
            long start = System.nanoTime();
            TechniqueResult result = ChannelPruningTest.prune(original, ChannelPruningTest.channel(Double.toString(sparsity), "criterion", criterion,
                    "channel_multiple", multiple));
            double seconds = (System.nanoTime() - start) / 1e9;
            OnnxModel pruned = OnnxModel.fromBytes(result.model().toBytes());
            Map<String, Object> report = result.report().values();
            System.out.printf("UltraFace RFB-320 %s %.2f channel_multiple %s: pruning %.2f s; groups pruned %s, refused %s; channels %s -> %s; MACs %,d -> %,d "
                            + "(%.3fx); parameters %,d -> %,d (%.3fx); file %,d -> %,d bytes (%.3fx)%n", criterion, sparsity, multiple, seconds,
                    report.get("groups_pruned"), report.get("groups_refused"), report.get("channels_before"), report.get("channels_after"),
                    report.get("macs_before"), report.get("macs_after"), ratio(report, "macs"),
                    report.get("parameters_before"), report.get("parameters_after"), ratio(report, "parameters"),
                    original.serializedSize(), pruned.serializedSize(), (double) pruned.serializedSize() / original.serializedSize());
            detections(original, pruned, criterion, sparsity);
            for (int threads : new int[] {1, 0}) {
                OnnxRuntimeEvaluator evaluator = new OnnxRuntimeEvaluator(threads, OnnxRuntimeEvaluator.DEFAULT_BATCH_SIZE);
                evaluator.compare(original, pruned, EvaluationRequest.of(photos, 2).withLatencyRuns(20));
                EvaluationResult comparison = evaluator.compare(original, pruned, EvaluationRequest.of(photos, 2).withLatencyRuns(runs));
                double before = comparison.latencyMsBefore().orElseThrow();
                double after = comparison.latencyMsAfter().orElseThrow();
                System.out.printf("UltraFace RFB-320 %s %.2f latency, %s intra-op threads, median of %d interleaved single-input runs each: "
                                + "original %.3f ms, pruned %.3f ms, ratio %.3f (speed-up %.2fx), load average %s%n", criterion, sparsity,
                        threads == 0 ? "default (" + Runtime.getRuntime().availableProcessors() + " cores)" : threads, runs, before, after,
                        after / before, before / after, loadAverage());
            }
        }
    }

    private static void detections(OnnxModel original, OnnxModel pruned, String criterion, double sparsity) {
        OnnxRuntimeEvaluator evaluator = new OnnxRuntimeEvaluator(1, OnnxRuntimeEvaluator.DEFAULT_BATCH_SIZE);
        try (InferenceSession before = evaluator.open(original); InferenceSession after = evaluator.open(pruned)) {
            for (int photo = 1; photo <= 2; photo++) {
                Map<String, NdArray> input = Map.of(before.inputs().get(0).name(), UltraFaceDetections.photo(photo));
                Map<String, NdArray> expected = before.run(input);
                Map<String, NdArray> actual = after.run(input);
                float[] scoresBefore = expected.get("scores").toFloatArray();
                float[] scoresAfter = actual.get("scores").toFloatArray();
                List<UltraFaceDetections.Face> facesBefore = UltraFaceDetections.faces(scoresBefore, expected.get("boxes").toFloatArray());
                List<UltraFaceDetections.Face> facesAfter = UltraFaceDetections.faces(scoresAfter, actual.get("boxes").toFloatArray());
                double[] best = UltraFaceDetections.bestMatches(facesBefore, facesAfter);
                System.out.printf("UltraFace RFB-320 %s %.2f %d.jpg: faces (score > 0.7, NMS 0.3) original %d, pruned %d, original faces "
                                + "found again with IoU >= 0.5: %d, mean best IoU %.3f, face score correlation over 4420 anchors %.4f%n",
                        criterion, sparsity, photo, facesBefore.size(), facesAfter.size(), Arrays.stream(best).filter(iou -> iou >= 0.5).count(),
                        Arrays.stream(best).average().orElse(0), UltraFaceDetections.scoreCorrelation(scoresBefore, scoresAfter));
            }
        }
    }

    private static double ratio(Map<String, Object> report, String name) {
        return ((Number) report.get(name + "_after")).doubleValue() / ((Number) report.get(name + "_before")).doubleValue();
    }

    private static String loadAverage() {
        try {
            String[] parts = Files.readString(Path.of("/proc/loadavg")).trim().split("\\s+");
            return parts[0] + " " + parts[1] + " " + parts[2];
        } catch (Exception e) {
            return String.format("%.2f", ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage());
        }
    }
}
