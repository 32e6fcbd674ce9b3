package io.condense.plugin.quantization;

import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.OperatorSetIdProto;
import ai.onnx.proto.OnnxMl.StringStringEntryProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnx.proto.OnnxMl.TensorShapeProto;
import ai.onnx.proto.OnnxMl.TypeProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.SplittableRandom;

/**
 * A generated model with the MatMul weights of a 7B-class decoder (LLaMA-7B: hidden 4096, MLP 11008), random weights
 * with the spread of a trained layer's (uniform, standard deviation 1 / sqrt(fan in)), every weight in one external
 * data file. Each of {@code layers} blocks: a = LayerNorm(x); h = x + (a Wq + a Wk + a Wv) Wo; b = LayerNorm(h);
 * x' = h + ((b Wgate) * (b Wup)) Wdown: 7 MatMul weights, 202 M parameters, 809 MB of float per block (4 blocks:
 * 3.2 GB). Attention itself (Softmax over tokens) is left out: it has no weights and changes nothing for a
 * weight-only quantizer; input x [batch, tokens, 4096].
 */
final class DecoderWeightsModel {
    static final int HIDDEN = 4096;
    static final int INNER = 11008;
    static final String INPUT = "x";
    private static final int CHUNK_FLOATS = 1 << 22;

    private DecoderWeightsModel() {
    }

    /** Writes {@code model.onnx} and {@code model.onnx.data} in the folder; returns the model file. */
    static Path write(Path folder, String name, int layers, long seed) throws IOException {
        return write(folder, name, layers, seed, HIDDEN, INNER);
    }

    /** The same graph with other widths (a small one for tests of the paths a 7B model takes). */
    static Path write(Path folder, String name, int layers, long seed, int hidden, int inner) throws IOException {
        Files.createDirectories(folder);
        Path modelFile = folder.resolve(name);
        String dataName = name + ".data";
        SplittableRandom random = new SplittableRandom(seed);
        GraphProto.Builder graph = GraphProto.newBuilder().setName("decoder_weights")
                .addInput(value(INPUT, hidden)).addOutput(value("y", hidden));
        try (FileChannel channel = FileChannel.open(folder.resolve(dataName), StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            Writer writer = new Writer(channel, dataName, graph, random);
            String x = INPUT;
            for (int layer = 0; layer < layers; layer++) {
                String p = "layer" + layer + ".";
                String a = norm(graph, writer, p + "input_norm", x, hidden);
                for (String projection : List.of("q", "k", "v")) {
                    writer.weight(p + projection + "_proj", hidden, hidden);
                    graph.addNode(node("MatMul", p + projection, a, p + projection + "_proj"));
                }
                graph.addNode(node("Add", p + "qk", p + "q", p + "k"));
                graph.addNode(node("Add", p + "qkv", p + "qk", p + "v"));
                writer.weight(p + "o_proj", hidden, hidden);
                graph.addNode(node("MatMul", p + "attention", p + "qkv", p + "o_proj"));
                graph.addNode(node("Add", p + "h", x, p + "attention"));
                String b = norm(graph, writer, p + "post_norm", p + "h", hidden);
                writer.weight(p + "gate_proj", hidden, inner);
                writer.weight(p + "up_proj", hidden, inner);
                graph.addNode(node("MatMul", p + "gate", b, p + "gate_proj"));
                graph.addNode(node("MatMul", p + "up", b, p + "up_proj"));
                graph.addNode(node("Mul", p + "gated", p + "gate", p + "up"));
                writer.weight(p + "down_proj", inner, hidden);
                graph.addNode(node("MatMul", p + "mlp", p + "gated", p + "down_proj"));
                String out = layer == layers - 1 ? "y" : p + "out";
                graph.addNode(node("Add", out, p + "h", p + "mlp"));
                x = out;
            }
        }
        ModelProto model = ModelProto.newBuilder().setIrVersion(8).setProducerName("condense-benchmark").setGraph(graph)
                .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(17)).build();
        try (OutputStream out = Files.newOutputStream(modelFile)) {
            model.writeTo(out);
        }
        return modelFile;
    }

    static long parameters(int layers) {
        return layers * (4L * HIDDEN * HIDDEN + 3L * HIDDEN * INNER);
    }

    private static String norm(GraphProto.Builder graph, Writer writer, String name, String input, int hidden) throws IOException {
        writer.constant(name + ".weight", hidden, 1f);
        writer.constant(name + ".bias", hidden, 0f);
        graph.addNode(NodeProto.newBuilder().setOpType("LayerNormalization").setName(name).addInput(input).addInput(name + ".weight")
                .addInput(name + ".bias").addOutput(name).build());
        return name;
    }

    private static NodeProto node(String op, String output, String... inputs) {
        return NodeProto.newBuilder().setOpType(op).setName(output + "_" + op).addAllInput(List.of(inputs)).addOutput(output).build();
    }

    private static ValueInfoProto value(String name, int hidden) {
        TensorShapeProto shape = TensorShapeProto.newBuilder()
                .addDim(TensorShapeProto.Dimension.newBuilder().setDimParam("batch"))
                .addDim(TensorShapeProto.Dimension.newBuilder().setDimParam("tokens"))
                .addDim(TensorShapeProto.Dimension.newBuilder().setDimValue(hidden)).build();
        return ValueInfoProto.newBuilder().setName(name).setType(TypeProto.newBuilder().setTensorType(
                TypeProto.Tensor.newBuilder().setElemType(1).setShape(shape))).build();
    }

    /** Appends tensors to the data file, 4096-aligned, and their external references to the graph. */
    private static final class Writer {
        private final FileChannel channel;
        private final String location;
        private final GraphProto.Builder graph;
        private final SplittableRandom random;
        private final ByteBuffer buffer = ByteBuffer.allocateDirect(4 * CHUNK_FLOATS).order(ByteOrder.LITTLE_ENDIAN);
        private long offset;

        Writer(FileChannel channel, String location, GraphProto.Builder graph, SplittableRandom random) {
            this.channel = channel;
            this.location = location;
            this.graph = graph;
            this.random = random;
        }

        void weight(String name, int rows, int columns) throws IOException {
            double bound = Math.sqrt(3.0 / rows);
            write(name, new long[] {rows, columns}, (long) rows * columns, () -> (float) ((2 * random.nextDouble() - 1) * bound));
        }

        void constant(String name, int size, float value) throws IOException {
            write(name, new long[] {size}, size, () -> value);
        }

        private void write(String name, long[] shape, long count, FloatSource source) throws IOException {
            offset = (offset + 4095) / 4096 * 4096;
            long start = offset;
            long left = count;
            while (left > 0) {
                int n = (int) Math.min(left, CHUNK_FLOATS);
                buffer.clear();
                for (int i = 0; i < n; i++) {
                    buffer.putFloat(source.next());
                }
                buffer.flip();
                while (buffer.hasRemaining()) {
                    offset += channel.write(buffer, offset);
                }
                left -= n;
            }
            TensorProto.Builder tensor = TensorProto.newBuilder().setName(name).setDataType(1)
                    .setDataLocation(TensorProto.DataLocation.EXTERNAL)
                    .addExternalData(entry("location", location))
                    .addExternalData(entry("offset", Long.toString(start)))
                    .addExternalData(entry("length", Long.toString(4 * count)));
            for (long dim : shape) {
                tensor.addDims(dim);
            }
            graph.addInitializer(tensor);
        }

        private static StringStringEntryProto entry(String key, String value) {
            return StringStringEntryProto.newBuilder().setKey(key).setValue(value).build();
        }
    }

    @FunctionalInterface
    private interface FloatSource {
        float next();
    }
}
