package io.condense.plugin.quantization;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.OperatorSetIdProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnx.proto.OnnxMl.TensorShapeProto;
import ai.onnx.proto.OnnxMl.TypeProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import com.google.protobuf.ByteString;
import com.google.protobuf.UnsafeByteOperations;
import io.condense.plugin.pruning.PruneTechnique;
import io.condense.sdk.sparsity.MagnitudeThreshold;
import io.condense.sdk.tensor.ChannelLayout;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.technique.Parameters;
import io.condense.sdk.technique.Technique;
import io.condense.sdk.technique.TechniqueResult;
import io.condense.sdk.testkit.TestStepContext;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Supplier;

/**
 * Throughput of quantize and prune on a synthetic model of fp32 weights, against a plain copy of the same
 * bytes measured in the same run. Not a test: run it with
 * {@code mvn -q -f plugins/quantization/pom.xml test-compile exec:exec@benchmark} (after installing the pruning
 * plugin), optionally with {@code -Dbenchmark.heap=8g -Dbenchmark.megabytes=512 -Dbenchmark.repetitions=9}. Arguments: weight
 * megabytes (default 256), timed repetitions (default 7) and which operations (those whose label contains the text;
 * {@code -Dbenchmark.only="quantize per"}, default all). Each run of an operation is paired with a copy
 * measured just before it; the figures are medians over the repetitions, after one warm-up run.
 */
public final class CompressionBenchmark {
    private static final int WIDTH = 2048;

    private CompressionBenchmark() {
    }

    public static void main(String[] arguments) {
        int megabytes = arguments.length > 0 ? Integer.parseInt(arguments[0]) : 256;
        int repetitions = arguments.length > 1 ? Integer.parseInt(arguments[1]) : 7;
        // the operations whose label contains this text, and the copy (all: every operation)
        String only = arguments.length > 2 && !arguments[2].equals("all") ? arguments[2] : "";
        long layerBytes = 4L * WIDTH * WIDTH;
        int layers = (int) Math.max(1, (megabytes * 1024L * 1024L + layerBytes - 1) / layerBytes);

        long started = System.nanoTime();
        OnnxModel model = syntheticModel(layers);
        List<ByteString> weights = new ArrayList<>();
        for (TensorProto tensor : model.graph().getInitializerList()) {
            weights.add(tensor.getRawData());
        }
        long totalBytes = 0;
        for (ByteString weight : weights) {
            totalBytes += weight.size();
        }
        double totalMegabytes = totalBytes / (1024.0 * 1024.0);
        System.out.printf(Locale.ROOT, "synthetic model: %d layers (MatMul [%d,%d] and Gemm transB=1 alternating), %.1f MB of fp32 "
                + "weights, built in %.1f s; Java %s, %d cores, max heap %d MB; medians of %d runs after a warm-up%n",
                layers, WIDTH, WIDTH, totalMegabytes, (System.nanoTime() - started) / 1e9, System.getProperty("java.version"),
                Runtime.getRuntime().availableProcessors(), Runtime.getRuntime().maxMemory() >> 20, repetitions);

        byte[][] sources = new byte[weights.size()][];
        for (int i = 0; i < sources.length; i++) {
            sources[i] = weights.get(i).toByteArray();
        }
        Supplier<Object> copy = () -> {
            long sum = 0;
            for (byte[] source : sources) {
                byte[] target = new byte[source.length];
                System.arraycopy(source, 0, target, 0, source.length);
                sum += target[target.length - 1];
            }
            return sum;
        };

        System.out.println("load average before: " + loadAverage() + " (other processes on the machine skew every figure)");
        System.out.printf(Locale.ROOT, "%-44s %9s %9s %9s %8s%n", "operation", "seconds", "MB/s", "copy s", "vs copy");
        Object[][] cases = {
                {"copy of the weight bytes into new arrays", null, Map.of(), false},
                {"quantize per_channel apply()", new QuantizeTechnique(), Map.of("granularity", "per_channel"), false},
                {"quantize per_channel apply() + toBytes()", new QuantizeTechnique(), Map.of("granularity", "per_channel"), true},
                {"quantize per_tensor apply()", new QuantizeTechnique(), Map.of("granularity", "per_tensor"), false},
                {"quantize bits=4 block=32 apply()", new QuantizeTechnique(), Map.of("bits", "4", "granularity", "block"), false},
                {"prune 0.5 layer scope apply()", new PruneTechnique(), Map.of("sparsity", "0.5", "scope", "layer"), false},
                {"prune 0.5 global scope apply()", new PruneTechnique(), Map.of("sparsity", "0.5", "scope", "global"), false},
                {"prune 0.5 layer scope apply() + toBytes()", new PruneTechnique(), Map.of("sparsity", "0.5", "scope", "layer"), true},
                {"prune 0.9 layer scope apply() (sparse)", new PruneTechnique(), Map.of("sparsity", "0.9", "scope", "layer"), false},
        };
        // the kernels alone (what each step spends per weight, without reading the model or writing the graph), on the same
        // weights: int8 scales and levels of each layer in its own layout (MatMul: channels last; Gemm transB=1: channels
        // first), and the magnitude threshold and pruned bytes of each layer at 0.5
        Object[][] kernels = {
                {"kernel: int8 per-channel scales + levels", (Supplier<Object>) () -> {
                    long sum = 0;
                    for (int i = 0; i < layers; i++) {
                        ChannelLayout layout = ChannelLayout.of(new long[] {WIDTH, WIDTH}, i % 2 == 0 ? 1 : 0);
                        java.nio.FloatBuffer values = ByteBuffer.wrap(sources[i]).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
                        float[] scales = new float[WIDTH];
                        byte[] levels = new byte[WIDTH * WIDTH];
                        SymmetricQuantizer.scales(values, layout, scales);
                        sum += (long) SymmetricQuantizer.quantize(values, layout, scales, levels).signal() + levels[7];
                    }
                    return sum;
                }},
                {"kernel: magnitude threshold + prune 0.5", (Supplier<Object>) () -> {
                    long sum = 0;
                    MagnitudeThreshold threshold = new MagnitudeThreshold();
                    for (int i = 0; i < layers; i++) {
                        int[] bits = new int[WIDTH * WIDTH];
                        ByteBuffer.wrap(sources[i]).order(ByteOrder.LITTLE_ENDIAN).asIntBuffer().get(bits);
                        MagnitudeThreshold.Threshold found = threshold.find(new int[][] {bits}, bits.length / 2);
                        sum += MagnitudeThreshold.apply(bits, found.bits(), found.ties(), new byte[4 * bits.length]).nonZeros();
                    }
                    return sum;
                }},
        };
        for (Object[] entry : cases) {
            String label = (String) entry[0];
            Technique technique = (Technique) entry[1];
            @SuppressWarnings("unchecked")
            Map<String, String> values = (Map<String, String>) entry[2];
            boolean serialize = (Boolean) entry[3];
            if (technique != null && !label.contains(only)) {
                continue;
            }
            Supplier<Object> work;
            if (technique == null) {
                work = copy;
            } else {
                Parameters parameters = Parameters.validate(technique.descriptor().parameters(), values);
                work = () -> {
                    try (TestStepContext context = TestStepContext.builder().technique(technique, values).withoutEvaluator().build()) {
                        TechniqueResult result = technique.apply(model, parameters, context);
                        return serialize ? result.model().toBytes().length : result.report().values().size();
                    }
                };
            }
            Timing timing = measure(repetitions, work, copy);
            System.out.printf(Locale.ROOT, "%-44s %9.3f %9.0f %9.3f %7.2fx%n", label, timing.seconds(), totalMegabytes / timing.seconds(),
                    timing.copySeconds(), timing.ratio());
        }
        for (Object[] kernel : kernels) {
            String label = (String) kernel[0];
            if (!label.contains(only)) {
                continue;
            }
            @SuppressWarnings("unchecked")
            Supplier<Object> work = (Supplier<Object>) kernel[1];
            Timing timing = measure(repetitions, work, copy);
            System.out.printf(Locale.ROOT, "%-44s %9.3f %9.0f %9.3f %7.2fx%n", label, timing.seconds(), totalMegabytes / timing.seconds(),
                    timing.copySeconds(), timing.ratio());
        }
        System.out.println("load average after: " + loadAverage());
    }

    /** The 1, 5 and 15 minute load averages (Linux), or "unknown". */
    private static String loadAverage() {
        try {
            String[] fields = java.nio.file.Files.readString(java.nio.file.Path.of("/proc/loadavg")).trim().split(" ");
            return fields[0] + " " + fields[1] + " " + fields[2];
        } catch (java.io.IOException | RuntimeException e) {
            return "unknown";
        }
    }

    /** Medians of the work's time, of the copy's time, and of their ratio taken run by run (copy right before work). */
    private record Timing(double seconds, double copySeconds, double ratio) {
    }

    /**
     * Runs the copy and then the work, {@code repetitions} times after one untimed warm-up of each, and takes
     * medians. Pairing each run with a copy measured just before it keeps the ratio honest on a busy machine.
     */
    private static Timing measure(int repetitions, Supplier<Object> work, Supplier<Object> copy) {
        Object sink = copy.get();
        sink = work.get();
        double[] times = new double[repetitions];
        double[] copies = new double[repetitions];
        double[] ratios = new double[repetitions];
        for (int i = 0; i < repetitions; i++) {
            System.gc();
            long start = System.nanoTime();
            sink = copy.get();
            copies[i] = (System.nanoTime() - start) / 1e9;
            System.gc();
            start = System.nanoTime();
            sink = work.get();
            times[i] = (System.nanoTime() - start) / 1e9;
            ratios[i] = times[i] / copies[i];
        }
        if (sink == null) {
            throw new IllegalStateException("no result");
        }
        return new Timing(median(times), median(copies), median(ratios));
    }

    private static double median(double[] values) {
        double[] sorted = values.clone();
        Arrays.sort(sorted);
        int middle = sorted.length / 2;
        return sorted.length % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
    }

    /** A chain of square fully connected layers with Gaussian-like random weights (a fast generator, seeded). */
    static OnnxModel syntheticModel(int layers) {
        GraphProto.Builder graph = GraphProto.newBuilder().setName("synthetic");
        graph.addInput(vector("input"));
        long state = 0x9E3779B97F4A7C15L;
        String previous = "input";
        for (int layer = 0; layer < layers; layer++) {
            String weight = "layer" + layer + ".weight";
            String output = layer == layers - 1 ? "output" : "layer" + layer + ".output";
            byte[] bytes = new byte[4 * WIDTH * WIDTH];
            ByteBuffer buffer = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
            for (int i = 0; i < WIDTH * WIDTH; i++) {
                // sum of four uniform values: close enough to a Gaussian for magnitudes and ranges
                state ^= state << 13;
                state ^= state >>> 7;
                state ^= state << 17;
                float sum = (float) ((state & 0xFFFF) + ((state >>> 16) & 0xFFFF) + ((state >>> 32) & 0xFFFF) + (state >>> 48)) / 65536f - 2f;
                buffer.putFloat(i * 4, sum * 0.02f);
            }
            graph.addInitializer(TensorProto.newBuilder().setName(weight).setDataType(1).addDims(WIDTH).addDims(WIDTH)
                    .setRawData(UnsafeByteOperations.unsafeWrap(bytes)));
            NodeProto.Builder node = NodeProto.newBuilder().setName("layer" + layer).addInput(previous).addInput(weight).addOutput(output);
            if (layer % 2 == 0) {
                node.setOpType("MatMul");
            } else {
                node.setOpType("Gemm").addAttribute(AttributeProto.newBuilder().setName("transB").setType(AttributeProto.AttributeType.INT).setI(1));
            }
            graph.addNode(node);
            previous = output;
        }
        graph.addOutput(vector("output"));
        ModelProto model = ModelProto.newBuilder().setIrVersion(8).setProducerName("condense-benchmark")
                .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(13)).setGraph(graph).build();
        return OnnxModel.of(model);
    }

    private static ValueInfoProto vector(String name) {
        TensorShapeProto shape = TensorShapeProto.newBuilder()
                .addDim(TensorShapeProto.Dimension.newBuilder().setDimValue(1))
                .addDim(TensorShapeProto.Dimension.newBuilder().setDimValue(WIDTH)).build();
        return ValueInfoProto.newBuilder().setName(name)
                .setType(TypeProto.newBuilder().setTensorType(TypeProto.Tensor.newBuilder().setElemType(1).setShape(shape))).build();
    }
}
