package io.condense.plugin.coding;

import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.OperatorSetIdProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnx.proto.OnnxMl.TensorShapeProto;
import ai.onnx.proto.OnnxMl.TypeProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import com.google.protobuf.ByteString;
import io.condense.sdk.coding.PackedModelDecoder;
import io.condense.sdk.model.OnnxModel;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;

/**
 * Encode (entropy=arithmetic, the default, huffman and zstd) and decode speed and size on a large pruned + shared model, against gzip -9
 * and zstd -19 of the same ONNX
 * file in the same run (a benchmark command, not a test; README "Benchmark"). The model: a chain of square Gemm layers
 * with Gaussian weights totalling {@code megabytes} of float32, pruned by the real {@code prune(sparsity=0.9,
 * storage=dense)} and shared by {@code quantize(scheme=kmeans, bits=6)}; that ONNX file is what all three compress.
 * MB/s are of the ONNX file's bytes (1 MB = 10^6 bytes) per second of CPU time (user + system; every coder here is
 * single-threaded), best of {@code repeats}: on a machine shared with other work, wall time measures the neighbours.
 * Encode includes encode's own decode and bit-exactness check, not the report's gzip baseline ({@code gzip_baseline=false}).
 */
public final class CodingBenchmark {
    private CodingBenchmark() {
    }

    public static void main(String[] args) throws Exception {
        int megabytes = args.length > 0 ? Integer.parseInt(args[0]) : 100;
        int repeats = args.length > 1 ? Integer.parseInt(args[1]) : 3;
        Path folder = Files.createDirectories(Path.of(args.length > 2 ? args[2] : "target/coding-benchmark"));
        int width = 2048;
        int layers = Math.max(1, (int) Math.round(megabytes * 1e6 / (4.0 * width * width)));
        OnnxModel dense = gemmChain(layers, width, new Random(1));
        System.out.printf(Locale.ROOT, "dense: %d Gemm layers of %dx%d, %.1f MB%n", layers, width, width, dense.serializedSize() / 1e6);
        OnnxModel shared = Pipelines.run(dense, "prune(sparsity=0.9, storage=dense) | quantize(scheme=kmeans, bits=6)");
        byte[] onnx = shared.toBytes();
        Path onnxFile = folder.resolve("pruned-shared.onnx");
        Files.write(onnxFile, onnx);
        double mb = onnx.length / 1e6;
        System.out.printf(Locale.ROOT, "pruned + shared ONNX: %.1f MB%n", mb);

        System.out.println();
        System.out.println("| coder | bytes | ratio | compress MB/s | decompress MB/s |");
        System.out.println("|---|---|---|---|---|");
        for (String entropy : List.of("arithmetic", "huffman", "zstd")) {
            encode(shared, entropy, folder, mb, onnx.length, repeats);
        }
        tool(List.of("gzip", "-9", "-k", "-f"), List.of("gzip", "-d", "-c"), ".gz", onnxFile, mb, onnx.length, repeats);
        tool(List.of("zstd", "-19", "-q", "-f", "-k", "--single-thread"), List.of("zstd", "-d", "-q", "-c"), ".zst", onnxFile, mb, onnx.length,
                repeats);
    }

    /** encode with this entropy coding (best of {@code repeats}), then the SDK decoder on its file; prints the table row. */
    private static void encode(OnnxModel model, String entropy, Path folder, double mb, long bytes, int repeats) throws Exception {
        EncodeTechnique encode = new EncodeTechnique();
        byte[] packed = null;
        double encodeSeconds = Double.MAX_VALUE;
        for (int i = 0; i < repeats; i++) {
            long started = cpu();
            packed = Pipelines.apply(encode, model, Map.of("gzip_baseline", "false", "entropy", entropy)).packed().orElseThrow()
                    .toByteArray();
            encodeSeconds = Math.min(encodeSeconds, (cpu() - started) / 1e9);
        }
        double decodeSeconds = Double.MAX_VALUE;
        for (int i = 0; i < repeats; i++) {
            long started = cpu();
            new PackedModelDecoder().decode(packed);
            decodeSeconds = Math.min(decodeSeconds, (cpu() - started) / 1e9);
        }
        Files.write(folder.resolve("pruned-shared-" + entropy + ".cpk"), packed);
        System.out.printf(Locale.ROOT, "| encode (.cpk, entropy=%s) | %,d | %.2fx | %.1f | %.1f |%n", entropy, packed.length,
                (double) bytes / packed.length, mb / encodeSeconds, mb / decodeSeconds);
    }

    private static void tool(List<String> compress, List<String> decompress, String suffix, Path file, double mb, long bytes, int repeats)
            throws Exception {
        double compressSeconds = Double.MAX_VALUE;
        double decompressSeconds = Double.MAX_VALUE;
        Path out = Path.of(file + suffix);
        for (int i = 0; i < repeats; i++) {
            compressSeconds = Math.min(compressSeconds, run(concat(compress, file.toString()), null));
            decompressSeconds = Math.min(decompressSeconds, run(concat(decompress, out.toString()), Path.of("/dev/null")));
        }
        long size = Files.size(out);
        System.out.printf(Locale.ROOT, "| %s | %,d | %.2fx | %.1f | %.1f |%n", String.join(" ", compress.subList(0, 2)), size,
                (double) bytes / size, mb / compressSeconds, mb / decompressSeconds);
    }

    private static List<String> concat(List<String> command, String argument) {
        List<String> all = new java.util.ArrayList<>(command);
        all.add(argument);
        return all;
    }

    private static long cpu() {
        return java.lang.management.ManagementFactory.getThreadMXBean().getCurrentThreadCpuTime();
    }

    /** CPU seconds (user + system) of a command, measured by bash's time. */
    private static double run(List<String> command, Path output) throws Exception {
        String line = "TIMEFORMAT='%3U %3S'; time " + String.join(" ", command) + (output == null ? "" : " > " + output);
        Process process = new ProcessBuilder("bash", "-c", line).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        String[] times = new String(process.getErrorStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8).trim().split("\\s+");
        int exit = process.waitFor();
        if (exit != 0) {
            throw new IllegalStateException(command + " exited " + exit);
        }
        return Double.parseDouble(times[times.length - 2]) + Double.parseDouble(times[times.length - 1]);
    }

    /** input [1, width] -> (Gemm, Relu) x layers, Gaussian weights (std 1/sqrt(width)) and zero biases. */
    static OnnxModel gemmChain(int layers, int width, Random random) {
        GraphProto.Builder graph = GraphProto.newBuilder().setName("gemm_chain");
        graph.addInput(value("input", width));
        String current = "input";
        for (int layer = 0; layer < layers; layer++) {
            ByteBuffer weights = ByteBuffer.allocate(4 * width * width).order(ByteOrder.LITTLE_ENDIAN);
            double std = 1 / Math.sqrt(width);
            for (int i = 0; i < width * width; i++) {
                weights.putFloat((float) (random.nextGaussian() * std));
            }
            String w = "fc" + layer + ".weight";
            String b = "fc" + layer + ".bias";
            graph.addInitializer(TensorProto.newBuilder().setName(w).setDataType(1).addDims(width).addDims(width)
                    .setRawData(ByteString.copyFrom(weights.array())));
            graph.addInitializer(TensorProto.newBuilder().setName(b).setDataType(1).addDims(width)
                    .setRawData(ByteString.copyFrom(new byte[4 * width])));
            String gemm = "fc" + layer;
            graph.addNode(NodeProto.newBuilder().setOpType("Gemm").setName(gemm).addInput(current).addInput(w).addInput(b).addOutput(gemm)
                    .addAttribute(ai.onnx.proto.OnnxMl.AttributeProto.newBuilder().setName("transB").setI(1)
                            .setType(ai.onnx.proto.OnnxMl.AttributeProto.AttributeType.INT)));
            String relu = "relu" + layer;
            graph.addNode(NodeProto.newBuilder().setOpType("Relu").setName(relu).addInput(gemm).addOutput(layer == layers - 1 ? "output" : relu));
            current = relu;
        }
        graph.addOutput(value("output", width));
        return OnnxModel.of(ModelProto.newBuilder().setIrVersion(8).addOpsetImport(OperatorSetIdProto.newBuilder().setVersion(13))
                .setGraph(graph).build());
    }

    private static ValueInfoProto value(String name, int width) {
        return ValueInfoProto.newBuilder().setName(name).setType(TypeProto.newBuilder().setTensorType(TypeProto.Tensor.newBuilder()
                .setElemType(1).setShape(TensorShapeProto.newBuilder()
                        .addDim(TensorShapeProto.Dimension.newBuilder().setDimValue(1))
                        .addDim(TensorShapeProto.Dimension.newBuilder().setDimValue(width))))).build();
    }
}
