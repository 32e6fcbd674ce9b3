package io.condense.plugin.quantization;

import io.condense.sdk.data.DataReaders;
import io.condense.sdk.data.Dataset;
import io.condense.sdk.data.NdArray;
import io.condense.sdk.eval.EvaluationRequest;
import io.condense.sdk.eval.EvaluationResult;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.technique.TechniqueResult;
import io.condense.sdk.testkit.SharedData;
import io.condense.server.runtime.OnnxRuntimeEvaluator;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.atomic.AtomicLong;

/**
 * ONNX Runtime latency of the static int8 model (activations=true, per-channel weights, minmax) against the float model in the
 * same run, and the wall time and memory of its calibration. A main, not a test:
 * {@code mvn -q -f plugins/quantization/pom.xml test-compile exec:exec@int8-latency} (see README.md).
 *
 * <p>Arguments: calibration inputs for pytorch_cnn_mnist (default 1000), for UltraFace (default 1000), latency runs per model
 * (default 200), the models to run (default {@code mnist,ultraface,resnet50}), calibration inputs for ResNet-50 (default 64). Models: pytorch_cnn_mnist calibrated on real digits (raw 0..255 pixels), UltraFace RFB-320 calibrated on its
 * two photos and perturbed copies of them (contrast, brightness, noise, mirror), ResNet-50 (the ONNX light model with random
 * weights, {@link LightModels}) calibrated on synthetic images ({@link SyntheticImages}).
 */
public final class Int8LatencyBenchmark {
    private Int8LatencyBenchmark() {
    }

    public static void main(String[] args) throws Exception {
        int mnistInputs = args.length > 0 ? Integer.parseInt(args[0]) : 1000;
        int faceInputs = args.length > 1 ? Integer.parseInt(args[1]) : 1000;
        int runs = args.length > 2 ? Integer.parseInt(args[2]) : 200;
        java.util.List<String> models = java.util.Arrays.asList((args.length > 3 ? args[3] : "mnist,ultraface,resnet50").split(","));
        int resnetInputs = args.length > 4 ? Integer.parseInt(args[4]) : 64;
        System.out.printf("Int8LatencyBenchmark %s: %d cores, load average %s, java %s, max heap %d MB, shared %s, models %s%n", Instant.now(),
                Runtime.getRuntime().availableProcessors(), loadAverage(), System.getProperty("java.version"),
                Runtime.getRuntime().maxMemory() >> 20, SharedData.directory(), models);

        if (models.contains("mnist")) {
            OnnxModel mnist = OnnxModel.load(SharedData.model("pytorch_cnn_mnist.onnx"));
            Dataset digits = SharedData.mnistDigits(mnistInputs, 1f);
            run("pytorch_cnn_mnist", mnist, digits, mnistInputs, SharedData.mnistDigits(16, 1f), runs);
        }

        if (models.contains("ultraface")) {
            OnnxModel face = OnnxModel.load(SharedData.model("ultraface/version-RFB-320.onnx"));
            Dataset photos = QuantizeTechniqueTest.photos();
            // the calibration inputs go to an .npy file first and are read back memory-mapped, as the server reads --calibration-data:
            // calibration then reads one sample at a time from the page cache instead of holding them all in the heap
            Path folder = Files.createTempDirectory("condense-int8-benchmark");
            Path file = folder.resolve("ultraface-calibration.npy");
            try {
                writePerturbed(photos, faceInputs, file);
                Dataset calibration = DataReaders.dataset(file, null);
                System.out.printf("UltraFace calibration inputs: %s, %d MB on disk, memory-mapped: %s%n", file, Files.size(file) >> 20,
                        calibration.inputs().isMapped());
                run("UltraFace RFB-320", face, calibration, faceInputs, photos, runs);
            } finally {
                Files.deleteIfExists(file);
                Files.deleteIfExists(folder);
            }
        }

        if (models.contains("resnet50")) {
            // compute-bound convolutions: ResNet-50 (Caffe2 export, 53 Conv, 224x224); the light model's weights are ConstantOfShape
            // nodes, materialised here as initializers with random but plausible values (LightModels, seed 7)
            OnnxModel resnet = LightModels.materialize(OnnxModel.load(SharedData.model("onnx_light/light_resnet50.onnx")), 7);
            long[] shape = {1, 3, 224, 224};
            Path folder = Files.createTempDirectory("condense-int8-benchmark");
            Path file = folder.resolve("resnet50-calibration.npy");
            try {
                writeNpy(shape, resnetInputs, file, new Random(42), SyntheticImages::fill);
                Dataset calibration = DataReaders.dataset(file, null);
                System.out.printf("ResNet-50 calibration inputs: %s, %d MB on disk, memory-mapped: %s%n", file, Files.size(file) >> 20,
                        calibration.inputs().isMapped());
                run("ResNet-50 (light, random weights)", resnet, calibration, resnetInputs, SyntheticImages.dataset(2, 4242), runs);
            } finally {
                Files.deleteIfExists(file);
                Files.deleteIfExists(folder);
            }
        }
        System.out.printf("done: load average %s%n", loadAverage());
    }

    private static void run(String name, OnnxModel original, Dataset calibration, int samples, Dataset evaluation, int runs)
            throws Exception {
        System.gc();
        long heapBefore = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
        long rssBefore = ProcessMemory.status("VmRSS");
        boolean hwmReset = ProcessMemory.resetHighWater();
        for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
            pool.resetPeakUsage();
        }
        AtomicLong sampledPeak = new AtomicLong(heapBefore);
        AtomicLong anonymousPeak = new AtomicLong(ProcessMemory.status("RssAnon"));
        AtomicLong filePeak = new AtomicLong(ProcessMemory.status("RssFile"));
        Thread sampler = new Thread(() -> {
            while (!Thread.currentThread().isInterrupted()) {
                sampledPeak.accumulateAndGet(ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed(), Math::max);
                // resident memory split: anonymous (heap, native buffers) and file-backed (the mapped data set, libraries)
                anonymousPeak.accumulateAndGet(ProcessMemory.status("RssAnon"), Math::max);
                filePeak.accumulateAndGet(ProcessMemory.status("RssFile"), Math::max);
                try {
                    Thread.sleep(5);
                } catch (InterruptedException e) {
                    return;
                }
            }
        });
        sampler.setDaemon(true);
        sampler.start();
        long start = System.nanoTime();
        TechniqueResult result = StaticActivationQuantizationTest.quantize(original,
                Map.of("activations", "true", "granularity", "per_channel", "calibration", "minmax",
                        "calibration_samples", Integer.toString(samples)), calibration);
        double seconds = (System.nanoTime() - start) / 1e9;
        sampler.interrupt();
        sampler.join();
        long poolPeaks = 0;
        for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
            if (pool.getType() == MemoryType.HEAP) {
                poolPeaks += pool.getPeakUsage().getUsed();
            }
        }
        long inputBytes = 4L * calibration.inputs().size();
        System.out.printf("%s calibration + quantization of %s inputs (%s MB of float inputs, %s): %.1f s wall "
                        + "(%.1f ms per input); heap used before %d MB, peak sampled every 5 ms %d MB, sum of heap pool peaks %d MB; "
                        + "process RSS before %d MB, VmHWM %d MB%s, sampled peaks: RssAnon %d MB, RssFile %d MB; calibration output SQNR %.2f dB, "
                        + "%s activation QDQ pairs%n",
                name, result.report().get("calibration_samples"), inputBytes >> 20,
                calibration.inputs().isMapped() ? "memory-mapped .npy, read on demand" : "held in the heap", seconds, seconds * 1000 / samples, heapBefore >> 20,
                sampledPeak.get() >> 20, poolPeaks >> 20, rssBefore >> 10, ProcessMemory.status("VmHWM") >> 10,
                hwmReset ? " (peak reset before calibration)" : " (peak of the whole process: clear_refs refused)",
                anonymousPeak.get() >> 10, filePeak.get() >> 10,
                (double) result.report().get("output_sqnr_db"), result.report().get("activations_quantized"));

        OnnxModel quantized = OnnxModel.fromBytes(result.model().toBytes());
        // the fair float baseline: BatchNormalization folded and initializers no longer listed as graph inputs (old exports list
        // them, which keeps ONNX Runtime from constant-folding), as the int8 model has them
        OnnxModel folded = OnnxModel.fromBytes(original.edit().foldBatchNormalization().build().toBytes());
        System.out.printf("%s ONNX Runtime kernels: float %s, float folded %s, int8 %s; report: folded_batchnorms %s%n", name,
                RuntimeKernels.operatorCounts(original), RuntimeKernels.operatorCounts(folded), RuntimeKernels.operatorCounts(quantized),
                result.report().get("folded_batchnorms"));
        latency(name + " (float as given)", original, quantized, evaluation, runs);
        latency(name + " (float, BatchNormalization folded)", folded, quantized, evaluation, runs);
        float[] first = evaluation.inputs().slice(0, 1).toFloatArray();
        long[] shape = evaluation.inputs().shape();
        shape[0] = 1;
        if (shape.length == 3) {
            shape = new long[] {1, 1, shape[1], shape[2]};
        }
        int profiled = Math.max(20, runs / 4);
        System.out.printf("%s ONNX Runtime profile, microseconds per run by operator (1 thread, %d runs): float folded %s; int8 %s%n", name,
                profiled, RuntimeKernels.profile(folded, first, shape, profiled), RuntimeKernels.profile(quantized, first, shape, profiled));
    }

    private static void latency(String name, OnnxModel original, OnnxModel quantized, Dataset evaluation, int runs) {
        for (int threads : new int[] {1, 0}) {
            OnnxRuntimeEvaluator evaluator = new OnnxRuntimeEvaluator(threads, OnnxRuntimeEvaluator.DEFAULT_BATCH_SIZE);
            // a short pass first so that both models and the machine are warm, then the measured one
            evaluator.compare(original, quantized, EvaluationRequest.of(evaluation, 1).withLatencyRuns(20));
            int count = Math.toIntExact(evaluation.inputs().shape()[0]);
            EvaluationResult comparison = evaluator.compare(original, quantized,
                    EvaluationRequest.of(evaluation, count).withLatencyRuns(runs));
            double before = comparison.latencyMsBefore().orElseThrow();
            double after = comparison.latencyMsAfter().orElseThrow();
            System.out.printf("%s latency, %s intra-op threads, median of %d interleaved single-input runs each: float %.3f ms, "
                            + "int8 %.3f ms, speed-up %.2fx%s (agreement %.4f, SQNR %.2f dB over %d inputs), load average %s%n",
                    name, threads == 0 ? "default (" + Runtime.getRuntime().availableProcessors() + " cores)" : threads, runs, before,
                    after, before / after, after > before ? " (int8 SLOWER)" : "", comparison.top1Agreement(), comparison.sqnrDb(),
                    count, loadAverage());
        }
    }

    /** Writes {@link #perturb perturbed} inputs to an .npy file one sample at a time (float32, C order, format 1.0). */
    static void writePerturbed(Dataset photos, int count, Path file) throws java.io.IOException {
        writeNpy(photos.inputs().shape(), count, file, new Random(42), (i, random, values) -> perturb(photos, i, random, values));
    }

    /** Fills sample {@code i} of an .npy file. */
    interface SampleGenerator {
        void fill(int i, Random random, float[] out);
    }

    /** Writes {@code count} generated samples of {@code shape} (its first dimension ignored) to an .npy file one at a time. */
    static void writeNpy(long[] shape, int count, Path file, Random random, SampleGenerator generator) throws java.io.IOException {
        int size = Math.toIntExact(NdArray.elementCount(shape) / shape[0]);
        String dictionary = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + count + ", " + shape[1] + ", " + shape[2] + ", "
                + shape[3] + "), }";
        int padded = (10 + dictionary.length() + 1 + 63) / 64 * 64 - 10;
        java.nio.ByteBuffer header = java.nio.ByteBuffer.allocate(10 + padded).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        header.put(new byte[] {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0}).putShort((short) padded)
                .put(dictionary.getBytes(java.nio.charset.StandardCharsets.ISO_8859_1));
        while (header.position() < 10 + padded - 1) {
            header.put((byte) ' ');
        }
        header.put((byte) '\n').flip();
        java.nio.ByteBuffer sample = java.nio.ByteBuffer.allocate(4 * size).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        try (java.nio.channels.FileChannel channel = java.nio.channels.FileChannel.open(file, java.nio.file.StandardOpenOption.CREATE,
                java.nio.file.StandardOpenOption.WRITE, java.nio.file.StandardOpenOption.TRUNCATE_EXISTING)) {
            while (header.hasRemaining()) {
                channel.write(header);
            }
            float[] values = new float[size];
            for (int i = 0; i < count; i++) {
                generator.fill(i, random, values);
                sample.clear();
                sample.asFloatBuffer().put(values);
                while (sample.hasRemaining()) {
                    channel.write(sample);
                }
            }
        }
    }

    /** Input {@code i} of the perturbed set into {@code out}: photo i mod n, random contrast, brightness, noise, mirrored every other pair. */
    private static void perturb(Dataset photos, int i, Random random, float[] out) {
        NdArray inputs = photos.inputs();
        long[] shape = inputs.shape();
        int photoCount = Math.toIntExact(shape[0]);
        int width = Math.toIntExact(shape[3]);
        int size = out.length;
        float[] source = inputs.toFloatArray();
        int photo = i % photoCount;
        float contrast = 0.8f + 0.4f * random.nextFloat();
        float brightness = -0.1f + 0.2f * random.nextFloat();
        boolean mirror = (i / photoCount) % 2 == 1;
        for (int j = 0; j < size; j++) {
            int x = j % width;
            int row = j - x;
            int from = mirror ? row + (width - 1 - x) : j;
            float v = source[photo * size + from] * contrast + brightness + 0.02f * (float) random.nextGaussian();
            out[j] = Math.max(-1f, Math.min(1f, v));
        }
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
