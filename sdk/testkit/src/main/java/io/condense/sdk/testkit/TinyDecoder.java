package io.condense.sdk.testkit;

import static io.condense.sdk.testkit.Attributes.ints;
import static io.condense.sdk.testkit.Attributes.scalar;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.OperatorSetIdProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnx.proto.OnnxMl.TensorShapeProto;
import ai.onnx.proto.OnnxMl.TypeProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.tensor.DataType;
import io.condense.sdk.tensor.Tensor;
import java.util.Random;

/**
 * A one-block GPT-style decoder written the way exporters write attention, to test what Condense does with transformer
 * graphs: token embeddings (Gather) plus learned positions (Gather of a Range over the sequence length taken from the
 * input's Shape), pre-LayerNormalization, one fused Q/K/V MatMul split into three, heads by Reshape and Transpose,
 * {@code Q x K^T} and {@code scores x V} (MatMuls of two activations), a causal mask (Trilu of a Constant, sliced to the
 * sequence and turned into a Where), Softmax, the output projection, a Relu MLP, a final LayerNormalization and a head
 * <em>tied</em> to the token embeddings: {@code MatMul(embeddings [V, D], hidden^T [B, D, T])}, the table on the left-hand
 * side of a MatMul and read by the Gather too (one weight, two kinds of reader), then Transpose to logits [B, T, V].
 *
 * <p>Input {@code tokens} int64 [batch, sequence] (both free, sequence at most {@link #CONTEXT}), output {@code logits}
 * [batch, sequence, {@link #VOCABULARY}]; opset 17; weights seeded, scaled 1 / sqrt(fan in). Shape constants are
 * Constant nodes, so the initializers are the {@link #PARAMETERS} parameters and nothing else.
 */
public final class TinyDecoder {
    public static final int VOCABULARY = 40;
    public static final int WIDTH = 32;
    public static final int HEADS = 2;
    public static final int CONTEXT = 8;
    public static final int INNER = 64;
    /**
     * By hand: embeddings 40 x 32 = 1,280, positions 8 x 32 = 256, three LayerNormalizations 3 x 64 = 192, Q/K/V 32 x 96 +
     * 96 = 3,168, output projection 32 x 32 = 1,024, MLP 32 x 64 + 64 x 32 = 4,096 (the tied head adds none).
     */
    public static final long PARAMETERS = 1_280 + 256 + 192 + 3_168 + 1_024 + 4_096;

    private final GraphProto.Builder graph = GraphProto.newBuilder().setName("tiny_decoder");
    private final Random random;
    private int counter;

    private TinyDecoder(long seed) {
        this.random = new Random(seed);
    }

    /**
     * Multiply-accumulates for one sequence of {@code tokens} tokens, by hand: Q/K/V T x 32 x 96, Q x K^T 2 heads x T x T x
     * 16, scores x V the same, output projection T x 32 x 32, MLP T x 32 x 64 twice, tied head 40 x T x 32.
     */
    public static long macs(long tokens) {
        long head = (long) WIDTH / HEADS;
        return tokens * WIDTH * 3 * WIDTH + 2 * (HEADS * tokens * tokens * head) + tokens * WIDTH * WIDTH
                + 2 * tokens * WIDTH * INNER + (long) VOCABULARY * tokens * WIDTH;
    }

    public static OnnxModel build(long seed) {
        TinyDecoder b = new TinyDecoder(seed);
        b.graph.addInput(value("tokens", 7, "batch", "sequence"));
        b.graph.addOutput(value("logits", 1, "batch", "sequence", Integer.toString(VOCABULARY)));
        b.weight("embeddings", 1, VOCABULARY, WIDTH);
        b.weight("positions", 1, CONTEXT, WIDTH);
        String sequence = b.node("Gather", new String[] {b.node("Shape", "tokens"), b.constant(1)}, scalar("axis", 0));
        String positions = b.node("Range", b.constant(0L), sequence, b.constant(1L));
        String x = b.node("Add", b.node("Gather", "embeddings", "tokens"), b.node("Gather", "positions", positions));

        String h = b.layerNorm(x, "norm1");
        String qkv = b.node("Add", b.node("MatMul", h, b.weight("qkv.weight", WIDTH, WIDTH, 3 * WIDTH)), b.weight("qkv.bias", 0, 3 * WIDTH));
        String[] parts = b.split(qkv, 3);
        long head = WIDTH / HEADS;
        String q = b.node("Transpose", new String[] {b.node("Reshape", parts[0], b.constant(0, 0, HEADS, head))}, ints("perm", 0, 2, 1, 3));
        String k = b.node("Transpose", new String[] {b.node("Reshape", parts[1], b.constant(0, 0, HEADS, head))}, ints("perm", 0, 2, 3, 1));
        String v = b.node("Transpose", new String[] {b.node("Reshape", parts[2], b.constant(0, 0, HEADS, head))}, ints("perm", 0, 2, 1, 3));
        String scores = b.node("Div", b.node("MatMul", q, k), b.floatConstant((float) Math.sqrt(head)));
        String lower = b.node("Trilu", new String[] {b.ones(CONTEXT, CONTEXT)}, scalar("upper", 0));
        String ends = b.node("Concat", new String[] {b.node("Unsqueeze", sequence, b.constant(new long[] {0})),
                b.node("Unsqueeze", sequence, b.constant(new long[] {0}))},
                scalar("axis", 0));
        String mask = b.node("Slice", lower, b.constant(0, 0), ends, b.constant(0, 1));
        String future = b.node("Equal", mask, b.floatConstant(0f));
        String probabilities = b.node("Softmax", new String[] {b.node("Where", future, b.floatConstant(-1e9f), scores)}, scalar("axis", -1));
        String context = b.node("Transpose", new String[] {b.node("MatMul", probabilities, v)}, ints("perm", 0, 2, 1, 3));
        String merged = b.node("Reshape", context, b.constant(0, 0, WIDTH));
        x = b.node("Add", x, b.node("MatMul", merged, b.weight("proj.weight", WIDTH, WIDTH, WIDTH)));

        h = b.layerNorm(x, "norm2");
        h = b.node("Relu", b.node("MatMul", h, b.weight("up.weight", WIDTH, WIDTH, INNER)));
        x = b.node("Add", x, b.node("MatMul", h, b.weight("down.weight", INNER, INNER, WIDTH)));

        h = b.layerNorm(x, "norm");
        String transposed = b.node("Transpose", new String[] {h}, ints("perm", 0, 2, 1));
        String byVocabulary = b.node("MatMul", "embeddings", transposed);
        b.graph.addNode(NodeProto.newBuilder().setOpType("Transpose").setName("head_transpose").addInput(byVocabulary).addOutput("logits")
                .addAttribute(ints("perm", 0, 2, 1)));
        return OnnxModel.of(ModelProto.newBuilder().setIrVersion(8).setProducerName("condense-testkit").setGraph(b.graph)
                .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(17)).build());
    }

    private String layerNorm(String x, String name) {
        String scale = name + ".weight";
        String bias = name + ".bias";
        graph.addInitializer(Tensor.fromFloats(scale, DataType.FLOAT, new long[] {WIDTH}, filled(WIDTH, 1f)).toProto());
        graph.addInitializer(Tensor.fromFloats(bias, DataType.FLOAT, new long[] {WIDTH}, new float[WIDTH]).toProto());
        return node("LayerNormalization", new String[] {x, scale, bias}, scalar("axis", -1));
    }

    private String[] split(String x, int parts) {
        String[] outputs = new String[parts];
        NodeProto.Builder node = NodeProto.newBuilder().setOpType("Split").setName("split_" + counter).addInput(x)
                .addInput(constant(WIDTH, WIDTH, WIDTH)).addAttribute(scalar("axis", 2));
        for (int i = 0; i < parts; i++) {
            outputs[i] = "split_" + counter + "_" + i;
            node.addOutput(outputs[i]);
        }
        counter++;
        graph.addNode(node);
        return outputs;
    }

    /** A float initializer of that shape, Gaussian with standard deviation 1 / sqrt(fanIn) (0: zeros, a bias). */
    private String weight(String name, int fanIn, long... shape) {
        int count = 1;
        for (long dimension : shape) {
            count *= (int) dimension;
        }
        float[] values = new float[count];
        for (int i = 0; i < count && fanIn > 0; i++) {
            values[i] = (float) (random.nextGaussian() / Math.sqrt(fanIn));
        }
        graph.addInitializer(Tensor.fromFloats(name, DataType.FLOAT, shape, values).toProto());
        return name;
    }

    private String ones(int rows, int columns) {
        return constantNode(Tensor.fromFloats("", DataType.FLOAT, new long[] {rows, columns}, filled(rows * columns, 1f)).toProto());
    }

    private String constant(long value) {
        TensorProto tensor = TensorProto.newBuilder().setDataType(DataType.INT64.onnxCode()).addInt64Data(value).build();
        return constantNode(tensor);
    }

    private String constant(long... values) {
        TensorProto.Builder tensor = TensorProto.newBuilder().setDataType(DataType.INT64.onnxCode()).addDims(values.length);
        for (long value : values) {
            tensor.addInt64Data(value);
        }
        return constantNode(tensor.build());
    }

    private String floatConstant(float value) {
        return constantNode(TensorProto.newBuilder().setDataType(DataType.FLOAT.onnxCode()).addFloatData(value).build());
    }

    private String constantNode(TensorProto tensor) {
        String output = "constant_" + counter++;
        graph.addNode(NodeProto.newBuilder().setOpType("Constant").setName(output).addOutput(output)
                .addAttribute(AttributeProto.newBuilder().setName("value").setType(AttributeProto.AttributeType.TENSOR)
                        .setT(tensor.toBuilder().setName(output))));
        return output;
    }

    private String node(String op, String... inputs) {
        return node(op, inputs, new AttributeProto[0]);
    }

    private String node(String op, String[] inputs, AttributeProto... attributes) {
        String output = op.toLowerCase(java.util.Locale.ROOT) + "_" + counter++;
        NodeProto.Builder node = NodeProto.newBuilder().setOpType(op).setName(output).addOutput(output);
        for (String input : inputs) {
            node.addInput(input);
        }
        for (AttributeProto attribute : attributes) {
            node.addAttribute(attribute);
        }
        graph.addNode(node);
        return output;
    }

    private static float[] filled(int count, float value) {
        float[] values = new float[count];
        java.util.Arrays.fill(values, value);
        return values;
    }

    /** A tensor value of that element type; dimensions that are not numbers are named (free) dimensions. */
    private static ValueInfoProto value(String name, int elementType, String... dimensions) {
        TensorShapeProto.Builder shape = TensorShapeProto.newBuilder();
        for (String dimension : dimensions) {
            shape.addDim(dimension.chars().allMatch(Character::isDigit)
                    ? TensorShapeProto.Dimension.newBuilder().setDimValue(Long.parseLong(dimension))
                    : TensorShapeProto.Dimension.newBuilder().setDimParam(dimension));
        }
        return ValueInfoProto.newBuilder().setName(name)
                .setType(TypeProto.newBuilder().setTensorType(TypeProto.Tensor.newBuilder().setElemType(elementType).setShape(shape))).build();
    }
}
