package io.condense.plugin.quantization;

import io.condense.sdk.model.LayerSelection;
import io.condense.sdk.model.ModelEditor;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.technique.TechniqueResult;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;

/**
 * One measured run of {@link LargeModelBenchmark}, in a JVM of its own: load a model with external data, quantize its
 * MatMul weights to int4 blocks as MatMulNBits, save it with external data; prints one {@code RESULT} line with the
 * wall time and the memory peaks.
 *
 * <p>{@code rtn} is the technique as a user runs it ({@code quantize(bits=4, granularity=block, block=32,
 * format=matmulnbits)}). {@code gptq} runs the same per-weight code with GPTQ on generated calibration activations
 * (the technique measures each layer's inputs by running the model in ONNX Runtime on calibration data, which at this
 * size is not done: see the README): 256 tokens per distinct layer input, Gaussian with a log-normal spread of feature
 * scales (a few large features, as in language models), Hessian 2 X^T X / 256, one factor shared by the weights that
 * read the same input (q, k, v; gate, up).
 */
public final class LargeModelRun {
    static final int CALIBRATION_TOKENS = 256;

    private LargeModelRun() {
    }

    public static void main(String[] args) throws Exception {
        String method = args[0];
        Path input = Path.of(args[1]);
        Path output = Path.of(args[2]);
        int block = Integer.parseInt(args[3]);
        int layers;
        double seconds;
        ProcessMemory memory = ProcessMemory.start();
        try (memory) {
            long start = System.nanoTime();
            OnnxModel model = OnnxModel.load(input);
            OnnxModel quantized;
            if (method.equals("rtn")) {
                TechniqueResult result = StaticActivationQuantizationTest.quantize(model, Map.of("bits", "4", "granularity", "block",
                        "block", Integer.toString(block), "format", "matmulnbits"), null);
                quantized = result.model();
                layers = ((Number) result.report().get("layers_quantized")).intValue();
            } else {
                quantized = gptq(model, block);
                layers = (int) quantized.nodes().stream().filter(node -> node.getOpType().equals("MatMulNBits")).count();
            }
            quantized.save(output);
            seconds = (System.nanoTime() - start) / 1e9;
        }
        System.out.printf("RESULT method=%s seconds=%.3f heap_peak_mb=%d heap_pool_peaks_mb=%d rss_peak_mb=%d rss_reset=%s "
                        + "rss_anon_peak_mb=%d rss_file_peak_mb=%d layers=%d%n", method, seconds, memory.heapPeakBytes() >> 20,
                memory.heapPoolPeakBytes() >> 20, memory.residentPeakBytes() >> 20, memory.highWaterReset(),
                memory.anonymousPeakBytes() >> 20, memory.filePeakBytes() >> 20, layers);
    }

    static OnnxModel gptq(OnnxModel model, int block) {
        List<LayerSelection.Candidate> candidates = new LayerSelection(List.of(), 0).select(model, model.weightLayers()).candidates();
        LowBitSettings settings = new LowBitSettings("uniform", 4, "block", block, "gptq", CALIBRATION_TOKENS, LowBitSettings.MATMULNBITS, List.of());
        ModelEditor editor = model.edit();
        String currentInput = null;
        Gptq.Factor factor = null;
        for (LayerSelection.Candidate candidate : candidates) {
            String layerInput = candidate.layers().get(0).node().getInput(0);
            int features = Math.toIntExact(candidate.shape()[0]);
            if (!layerInput.equals(currentInput)) {
                factor = null; // one factor alive at a time
                factor = Gptq.factor(generatedHessian(layerInput, features), features, layerInput);
                currentInput = layerInput;
            }
            BlockedMatMulWeights.write(editor, candidate, BlockedMatMulWeights.WeightValues.of(model, candidate.weightName()), settings, factor, null, null,
                    new LinkedHashMap<>());
            System.out.printf("  gptq %s done%n", candidate.weightName());
        }
        return editor.build();
    }

    /** 2 X^T X / n of generated activations X [256, features]. */
    static DMatrixRMaj generatedHessian(String name, int features) {
        Random random = new Random(name.hashCode());
        double[] scales = new double[features];
        for (int j = 0; j < features; j++) {
            scales[j] = Math.exp(0.5 * random.nextGaussian());
        }
        DMatrixRMaj activations = new DMatrixRMaj(CALIBRATION_TOKENS, features);
        for (int i = 0; i < CALIBRATION_TOKENS; i++) {
            for (int j = 0; j < features; j++) {
                activations.set(i, j, random.nextGaussian() * scales[j]);
            }
        }
        DMatrixRMaj hessian = new DMatrixRMaj(features, features);
        CommonOps_DDRM.multTransA(activations, activations, hessian);
        CommonOps_DDRM.scale(2.0 / CALIBRATION_TOKENS, hessian);
        return hessian;
    }
}
