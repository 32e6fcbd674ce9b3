package io.condense.plugin.quantization;

import io.condense.sdk.data.Dataset;
import io.condense.sdk.data.NdArray;
import io.condense.sdk.model.LayerSelection;
import io.condense.sdk.model.OnnxModel;
import io.condense.plugin.pruning.PruneTechnique;
import io.condense.sdk.technique.Parameters;
import io.condense.sdk.technique.Technique;
import io.condense.sdk.testkit.TestStepContext;
import io.condense.sdk.technique.TechniqueResult;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * One measured run of {@link LargeModelBenchmark}, in a JVM of its own: load a model with external data, quantize its
 * MatMul weights to int4 blocks as MatMulNBits, save it with external data; prints one {@code RESULT} line with the
 * wall time and the memory peaks.
 *
 * <p>{@code rtn} is the technique as a user runs it ({@code quantize(bits=4, granularity=block, block=32,
 * format=matmulnbits)}); {@code gptq} the same with {@code method=gptq} and generated calibration data: 8 samples of 32
 * tokens (256 tokens), Gaussian with a log-normal spread of feature scales (a few large features, as in language models),
 * which the technique runs through the model in ONNX Runtime (a session from the file with its external data), its layer
 * inputs beyond the Gram budget spilled to the scratch folder (the SDK's {@code LayerInputGrams}). {@code sparsegpt} runs
 * {@code prune(method=sparsegpt, pattern=2:4, sequential=false)} on the same calibration data (one weight at a time from
 * one calibration pass, the path every model over 2 GiB takes).
 */
public final class LargeModelRun {
    static final int CALIBRATION_SAMPLES = 8;
    static final int CALIBRATION_TOKENS = 32;

    private LargeModelRun() {
    }

    public static void main(String[] args) throws Exception {
        String method = args[0];
        Path input = Path.of(args[1]);
        Path output = Path.of(args[2]);
        int block = Integer.parseInt(args[3]);
        int layers;
        double seconds;
        TechniqueResult result;
        ProcessMemory memory = ProcessMemory.start();
        try (memory) {
            long start = System.nanoTime();
            OnnxModel model = OnnxModel.load(input);
            Map<String, String> values = new LinkedHashMap<>(Map.of("bits", "4", "granularity", "block", "block", Integer.toString(block),
                    "format", "matmulnbits"));
            Dataset calibration = null;
            if (method.equals("sparsegpt")) {
                calibration = calibration(DecoderWeightsModel.HIDDEN);
            } else if (!method.equals("rtn")) {
                values.put("method", "gptq");
                calibration = calibration(DecoderWeightsModel.HIDDEN);
            }
            if (method.equals("calibration")) {
                result = null;
                layers = hessians(model, calibration, start);
            } else if (method.equals("sparsegpt")) {
                // the same calibration data; sequential=false also on a model under 2 GiB, where it is not the default
                result = run(new PruneTechnique(), model, Map.of("method", "sparsegpt", "pattern", "2:4", "sequential", "false"),
                        calibration, start);
                layers = result.report().layers().size();
                result.model().save(output);
            } else {
                result = quantize(model, values, calibration, start);
                layers = ((Number) result.report().get("layers_quantized")).intValue();
                result.model().save(output);
            }
            seconds = (System.nanoTime() - start) / 1e9;
        }
        if (result != null && method.equals("sparsegpt")) {
            System.out.printf("  sparsity %s, spilled inputs %s, %s bytes%n", result.report().get("sparsity"),
                    result.report().get("calibration_spilled_inputs"), result.report().get("calibration_spilled_bytes"));
        }
        if (result != null && method.equals("gptq")) {
            for (Map<String, Object> layer : result.report().layers()) {
                System.out.printf("  %s: output error rtn %s gptq %s%n", layer.get("weight"), layer.get("output_error_rtn"),
                        layer.get("output_error_gptq"));
            }
            System.out.printf("  spilled inputs %s, %s bytes%n", result.report().get("calibration_spilled_inputs"),
                    result.report().get("calibration_spilled_bytes"));
        }
        System.out.printf("RESULT method=%s seconds=%.3f heap_peak_mb=%d heap_pool_peaks_mb=%d rss_peak_mb=%d rss_reset=%s "
                        + "rss_anon_peak_mb=%d rss_file_peak_mb=%d layers=%d%n", method, seconds, memory.heapPeakBytes() >> 20,
                memory.heapPoolPeakBytes() >> 20, memory.residentPeakBytes() >> 20, memory.highWaterReset(),
                memory.anonymousPeakBytes() >> 20, memory.filePeakBytes() >> 20, layers);
    }

    /**
     * GPTQ's calibration alone, as the technique runs it ({@link LayerHessians}: one pass, Grams beyond the budget spilled,
     * each weight's Hessian built in graph order), without the factoring and quantization that follow (O(K^3) and
     * O(N K^2) per weight, hours at 7B scale on a shared 2-core machine); returns the weights given a Hessian.
     */
    private static int hessians(OnnxModel model, Dataset calibration, long start) {
        List<LayerSelection.Candidate> candidates = new LayerSelection(List.of(), 0).select(model, model.weightLayers()).candidates();
        QuantizeTechnique technique = new QuantizeTechnique();
        Map<String, String> values = Map.of("bits", "4", "granularity", "block", "method", "gptq");
        try (TestStepContext context = TestStepContext.builder().technique(technique, values).calibrationData(calibration).build();
                LayerHessians hessians = LayerHessians.measure(model, candidates, calibration, CALIBRATION_SAMPLES, context)) {
            System.out.printf("  %.0f s: calibration pass done, %d inputs spilled (%d bytes)%n", (System.nanoTime() - start) / 1e9,
                    hessians.spilledInputs(), hessians.spilledBytes());
            for (LayerSelection.Candidate candidate : candidates) {
                double trace = org.ejml.dense.row.CommonOps_DDRM.trace(hessians.hessian(candidate.weightName()));
                System.out.printf("  %.0f s: Hessian of %s, trace %.6g%n", (System.nanoTime() - start) / 1e9, candidate.weightName(), trace);
            }
            return candidates.size();
        }
    }

    private static TechniqueResult quantize(OnnxModel model, Map<String, String> values, Dataset calibration, long start)
            throws InterruptedException {
        return run(new QuantizeTechnique(), model, values, calibration, start);
    }

    /** The technique in a test context whose progress messages are printed as they come, with the seconds since {@code start}. */
    private static TechniqueResult run(Technique technique, OnnxModel model, Map<String, String> values, Dataset calibration, long start)
            throws InterruptedException {
        Parameters parameters = Parameters.validate(technique.descriptor().parameters(), values);
        TestStepContext.Builder builder = TestStepContext.builder().technique(technique, values);
        if (calibration != null) {
            builder.calibrationData(calibration);
        }
        try (TestStepContext context = builder.build()) {
            Thread printer = new Thread(() -> {
                int printed = 0;
                while (!Thread.currentThread().isInterrupted()) {
                    List<TestStepContext.ProgressEvent> events = context.progressEvents();
                    for (; printed < events.size(); printed++) {
                        System.out.printf("  %.0f s: %s%n", (System.nanoTime() - start) / 1e9, events.get(printed).message());
                    }
                    try {
                        Thread.sleep(1000);
                    } catch (InterruptedException e) {
                        return;
                    }
                }
            });
            printer.setDaemon(true);
            printer.start();
            try {
                return technique.apply(model, parameters, context);
            } finally {
                printer.interrupt();
                printer.join();
            }
        }
    }

    /** Generated model inputs [8, 32, features] (see {@link #activations}). */
    static Dataset calibration(int features) {
        return Dataset.of(NdArray.ofFloats(new long[] {CALIBRATION_SAMPLES, CALIBRATION_TOKENS, features},
                activations(CALIBRATION_SAMPLES * CALIBRATION_TOKENS, features, 42)));
    }

    /**
     * {@code rows} Gaussian rows whose feature j is scaled by exp(0.5 g_j), the g_j the same for every seed (so held-out
     * inputs come from the calibration data's distribution); {@code seed} draws the values.
     */
    static float[] activations(int rows, int features, long seed) {
        Random scaleRandom = new Random(42);
        double[] scales = new double[features];
        for (int j = 0; j < features; j++) {
            scales[j] = Math.exp(0.5 * scaleRandom.nextGaussian());
        }
        Random random = new Random(seed);
        float[] values = new float[rows * features];
        for (int i = 0; i < values.length; i++) {
            values[i] = (float) (random.nextGaussian() * scales[i % features]);
        }
        return values;
    }
}
