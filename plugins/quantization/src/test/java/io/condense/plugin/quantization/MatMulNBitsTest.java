package io.condense.plugin.quantization;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.OperatorSetIdProto;
import ai.onnx.proto.OnnxMl.TensorShapeProto;
import ai.onnx.proto.OnnxMl.TypeProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import io.condense.sdk.data.Dataset;
import io.condense.sdk.data.NdArray;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.stats.ModelStats;
import io.condense.sdk.technique.InvalidParametersException;
import io.condense.sdk.technique.TechniqueResult;
import io.condense.sdk.tensor.DataType;
import io.condense.sdk.tensor.Tensor;
import java.nio.FloatBuffer;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

/**
 * {@code format=matmulnbits}: MatMul weights written as ONNX Runtime's com.microsoft.MatMulNBits. The written model runs
 * in ONNX Runtime and gives what the same levels give through DequantizeLinear ({@code format=qdq}, the dequantized
 * reference), the packed tensors unpack by hand to the QDQ levels, and what MatMulNBits cannot hold is refused.
 *
 * <p>The model is a small transformer feed-forward block with a weight shared by two MatMuls and a last block shorter than
 * 32 (80 input features): x [2, 3, 64] -> MatMul [64, 80] -> Relu -> MatMul [80, 48] (twice, shared) -> Add.
 */
class MatMulNBitsTest {
    private static final int BATCH = 2;
    private static final int TOKENS = 3;
    private static final int HIDDEN = 64;
    private static final int INNER = 80;
    private static final int OUT = 48;

    @ParameterizedTest(name = "bits={0} method={1}")
    @CsvSource({"4, rtn", "4, gptq", "3, rtn", "2, rtn", "8, rtn"})
    void runsInOnnxRuntimeAndMatchesTheDequantizedReference(int bits, String method) throws OrtException {
        OnnxModel model = feedForward();
        Map<String, String> values = new LinkedHashMap<>(Map.of("bits", Integer.toString(bits), "granularity", "block", "block", "32",
                "method", method));
        Dataset calibration = method.equals("gptq") ? inputs(64, 11) : null;
        Map<String, String> nbitsValues = new LinkedHashMap<>(values);
        nbitsValues.put("format", "matmulnbits");
        TechniqueResult nbits = StaticActivationQuantizationTest.quantize(model, nbitsValues, calibration);
        TechniqueResult qdq = StaticActivationQuantizationTest.quantize(model, values, calibration);
        OnnxModel written = OnnxModel.fromBytes(nbits.model().toBytes());

        assertThat(written.nodes()).extracting(NodeProto::getOpType).containsOnly("MatMulNBits", "Relu", "Add");
        assertThat(written.opsetVersion("com.microsoft")).contains(1L);
        assertThat(written.isInitializer("w1")).isFalse();
        NodeProto first = written.nodes().stream().filter(node -> node.getOpType().equals("MatMulNBits")).findFirst().orElseThrow();
        assertThat(first.getDomain()).isEqualTo("com.microsoft");
        assertThat(attribute(first, "bits")).isEqualTo(bits == 3 ? 4 : bits);
        assertThat(attribute(first, "block_size")).isEqualTo(32);
        assertThat(nbits.report().layers()).allSatisfy(layer -> assertThat(layer.get("format")).isEqualTo("matmulnbits"));
        // the shared weight is written once, read by both of its MatMulNBits
        assertThat(written.nodes().stream().filter(node -> node.getInputCount() > 1 && node.getInput(1).startsWith("w2_")).count())
                .isEqualTo(2);
        assertThat(written.initializers().stream().filter(info -> info.name().startsWith("w2_Q")).count()).isEqualTo(1);

        // shape inference and statistics see through MatMulNBits: the same multiply-accumulates as the float MatMuls
        assertThat(ModelStats.of(written).macs()).isPositive().isEqualTo(ModelStats.of(model).macs());

        // the packed levels, scales and zero points unpack to exactly the QDQ form's dequantized weight
        OnnxModel reference = qdq.model();
        for (String weight : List.of("w1", "w2")) {
            float[] fromNBits = unpack(written, weight, bits == 3 ? 4 : bits);
            float[] fromQdq = dequantizeQdq(reference, weight);
            assertThat(fromNBits).as(weight).containsExactly(fromQdq);
        }

        float[] input = inputs(1, 5).inputs().toFloatArray();
        float[] expected = run(reference, input);
        float[] actual = run(written, input);
        float[] floatOutput = run(model, input);
        double worst = 0;
        double scale = 0;
        for (int i = 0; i < expected.length; i++) {
            worst = Math.max(worst, Math.abs(expected[i] - actual[i]));
            scale = Math.max(scale, Math.abs(expected[i]));
        }
        System.out.printf("matmulnbits bits=%d %s: max |MatMulNBits - dequantized reference| %.3g (outputs up to %.3g), weight SQNR %.2f dB, "
                + "float vs quantized max diff %.3g%n", bits, method, worst, scale, (double) nbits.report().get("sqnr_db"),
                maxDifference(floatOutput, actual));
        assertThat(worst).as("MatMulNBits against the dequantized reference").isLessThan(1e-4 * scale);
        assertThat((double) nbits.report().get("sqnr_db")).isEqualTo((double) qdq.report().get("sqnr_db"));
    }

    /**
     * Round to nearest reads W [K, N] a block of rows by a tile of columns at a time (no transposing read): every group's
     * levels are those of its own range, checked against this test's own arithmetic of the documented rule (range widened to
     * hold 0, scale (high - low) / max level, zero point rint(-low / scale), level rint(w / scale) + zero clamped), for an
     * even and an odd number of outputs (nibbles packed by pairs or one at a time) and a last block of 16 features.
     */
    @ParameterizedTest(name = "bits={0} outputs={1}")
    @CsvSource({"4, 48", "4, 7", "3, 48", "2, 7", "8, 7"})
    void roundToNearestGivesEveryBlockTheLevelsOfItsOwnRange(int bits, int outputs) {
        Random random = new Random(5);
        int features = 80;
        float[] weights = gaussian(random, features * outputs, features);
        weights[3 * outputs + 2] = 0f; // an exact zero stays exact
        GraphProto graph = GraphProto.newBuilder().setName("one_matmul")
                .addInput(value("x", -1, features)).addOutput(value("y", -1, outputs))
                .addInitializer(Tensor.fromFloats("w", DataType.FLOAT, new long[] {features, outputs}, weights).toProto())
                .addNode(node("MatMul", List.of("x", "w"), "y"))
                .build();
        OnnxModel model = OnnxModel.of(ModelProto.newBuilder().setIrVersion(8).setProducerName("condense-test").setGraph(graph)
                .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(17)).build());
        TechniqueResult result = StaticActivationQuantizationTest.quantize(model, Map.of("bits", Integer.toString(bits), "granularity",
                "block", "block", "32"), null);
        float[] written = dequantizeQdq(result.model(), "w");
        int maxLevel = (1 << bits) - 1;
        double signal = 0;
        double noise = 0;
        for (int n = 0; n < outputs; n++) {
            for (int first = 0; first < features; first += 32) {
                int end = Math.min(features, first + 32);
                double low = 0;
                double high = 0;
                for (int k = first; k < end; k++) {
                    low = Math.min(low, weights[k * outputs + n]);
                    high = Math.max(high, weights[k * outputs + n]);
                }
                float scale = (float) ((high - low) / maxLevel);
                int zero = (int) Math.max(0, Math.min(maxLevel, Math.rint(-low / scale)));
                for (int k = first; k < end; k++) {
                    float weight = weights[k * outputs + n];
                    int level = (int) Math.max(0, Math.min(maxLevel, Math.rint(weight / scale) + zero));
                    float expected = (level - zero) * scale;
                    assertThat(written[k * outputs + n]).as("w[%d, %d]", k, n).isEqualTo(expected);
                    signal += (double) weight * weight;
                    noise += (double) (weight - expected) * (weight - expected);
                }
            }
        }
        assertThat(written[3 * outputs + 2]).isZero();
        assertThat((double) result.report().get("sqnr_db")).isCloseTo(10 * Math.log10(signal / noise), within(1e-3));
    }

    /**
     * A weight read as MatMul's first operand (W [80, 64] x X [batch, 64, 3]) becomes Transpose, MatMulNBits, Transpose
     * ((X^T W^T)^T) and gives the QDQ form's outputs (there it stays DequantizeLinear + MatMul, which ONNX Runtime
     * dequantizes again on every run).
     */
    @ParameterizedTest(name = "bits={0}")
    @CsvSource({"4", "8"})
    void aWeightOnTheLeftOfMatMulRunsAsTransposedMatMulNBits(int bits) throws OrtException {
        Random random = new Random(7);
        GraphProto graph = GraphProto.newBuilder().setName("left_weight")
                .addInput(value("x", -1, TOKENS, HIDDEN)).addOutput(value("y", -1, TOKENS, INNER))
                .addInitializer(Tensor.fromFloats("wl", DataType.FLOAT, new long[] {INNER, HIDDEN}, gaussian(random, INNER * HIDDEN, HIDDEN))
                        .toProto())
                .addNode(node("Transpose", List.of("x"), "xt").toBuilder().addAttribute(ints("perm", 0, 2, 1)))
                .addNode(node("MatMul", List.of("wl", "xt"), "h"))
                .addNode(node("Transpose", List.of("h"), "y").toBuilder().addAttribute(ints("perm", 0, 2, 1)))
                .build();
        OnnxModel model = OnnxModel.of(ModelProto.newBuilder().setIrVersion(8).setGraph(graph)
                .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(17)).build());
        Map<String, String> values = new LinkedHashMap<>(Map.of("bits", Integer.toString(bits), "granularity", "block", "block", "32"));
        TechniqueResult qdq = StaticActivationQuantizationTest.quantize(model, values, null);
        values.put("format", "matmulnbits");
        TechniqueResult nbits = StaticActivationQuantizationTest.quantize(model, values, null);
        OnnxModel written = OnnxModel.fromBytes(nbits.model().toBytes());

        assertThat(written.nodes()).extracting(NodeProto::getOpType).containsOnly("Transpose", "MatMulNBits")
                .filteredOn("MatMulNBits"::equals).hasSize(1);
        NodeProto matMulNBits = written.nodes().stream().filter(node -> node.getOpType().equals("MatMulNBits")).findFirst().orElseThrow();
        assertThat(attribute(matMulNBits, "K")).isEqualTo(HIDDEN);
        assertThat(attribute(matMulNBits, "N")).isEqualTo(INNER);
        assertThat(nbits.report().layers()).singleElement().satisfies(layer -> {
            assertThat(layer).containsEntry("format", "matmulnbits").containsKey("matmulnbits_operand").doesNotContainKey("matmulnbits_fallback");
        });
        // the same levels; the two paths sum the energies in different orders (float sums per element, double per group)
        assertThat((double) nbits.report().get("sqnr_db")).isCloseTo((double) qdq.report().get("sqnr_db"), within(1e-6));

        float[] input = inputs(1, 5).inputs().toFloatArray();
        float[] expected = run(qdq.model(), input);
        float[] actual = run(written, input);
        double scale = 0;
        for (float value : expected) {
            scale = Math.max(scale, Math.abs(value));
        }
        assertThat(maxDifference(expected, actual)).as("MatMulNBits against the dequantized reference").isLessThan(1e-4 * scale);
        assertThat(maxDifference(run(model, input), actual)).as("and near float").isLessThan(0.2 * scale);
    }

    private static ai.onnx.proto.OnnxMl.AttributeProto ints(String name, long... values) {
        ai.onnx.proto.OnnxMl.AttributeProto.Builder attribute = ai.onnx.proto.OnnxMl.AttributeProto.newBuilder().setName(name)
                .setType(ai.onnx.proto.OnnxMl.AttributeProto.AttributeType.INTS);
        for (long value : values) {
            attribute.addInts(value);
        }
        return attribute.build();
    }

    @Test
    void whatMatMulNBitsCannotHoldIsRefused() {
        OnnxModel model = feedForward();
        InvalidParametersException perChannel = catchThrowableOfType(InvalidParametersException.class,
                () -> QuantizeTechniqueTest.quantize(model, Map.of("bits", "4", "format", "matmulnbits")));
        assertThat(perChannel).hasMessageContaining("use granularity=block");
        InvalidParametersException block = catchThrowableOfType(InvalidParametersException.class, () -> QuantizeTechniqueTest.quantize(
                model, Map.of("bits", "4", "granularity", "block", "block", "48", "format", "matmulnbits")));
        assertThat(block).hasMessageContaining("power of two from 16");
        InvalidParametersException activations = catchThrowableOfType(InvalidParametersException.class, () -> QuantizeTechniqueTest
                .quantize(model, Map.of("bits", "4", "granularity", "block", "activations", "true", "format", "matmulnbits")));
        assertThat(activations).hasMessageContaining("drop activations=true");
    }

    private static long attribute(NodeProto node, String name) {
        return node.getAttributeList().stream().filter(attribute -> attribute.getName().equals(name)).findFirst().orElseThrow().getI();
    }

    /** W [K, N] from MatMulNBits' B [N, blocks, blob], scales [N, blocks] and zero points [N, ceil(blocks * bits / 8)]. */
    private static float[] unpack(OnnxModel written, String weight, int bits) {
        String packedName = written.initializers().stream().map(info -> info.name()).filter(name -> name.startsWith(weight + "_Q"))
                .findFirst().orElseThrow();
        Tensor packed = written.tensor(packedName);
        long[] shape = packed.shape();
        int outputs = (int) shape[0];
        int blocks = (int) shape[1];
        int blob = (int) shape[2];
        int block = blob * 8 / bits;
        float[] scales = written.tensor(weight + "_scales").toFloatArray();
        Tensor zeros = written.tensor(weight + "_zero_points");
        int zeroBytes = (int) zeros.shape()[1];
        byte[] packedBytes = bytes(packed);
        byte[] zeroPoints = bytes(zeros);
        int features = (int) attributeOf(written, packedName, "K");
        float[] values = new float[features * outputs];
        for (int n = 0; n < outputs; n++) {
            for (int b = 0; b < blocks; b++) {
                int zero = bitsAt(zeroPoints, (long) n * zeroBytes * 8 + (long) b * bits, bits);
                float scale = scales[n * blocks + b];
                for (int j = 0; j < block && b * block + j < features; j++) {
                    int level = bitsAt(packedBytes, ((long) (n * blocks + b) * blob) * 8 + (long) j * bits, bits);
                    values[(b * block + j) * outputs + n] = (level - zero) * scale;
                }
            }
        }
        return values;
    }

    private static long attributeOf(OnnxModel model, String packedName, String attribute) {
        return attribute(model.consumers(packedName).get(0), attribute);
    }

    private static int bitsAt(byte[] bytes, long position, int bits) {
        return ((bytes[(int) (position >>> 3)] & 0xFF) >>> (position & 7)) & ((1 << bits) - 1);
    }

    private static byte[] bytes(Tensor tensor) {
        byte[] bytes = new byte[(int) tensor.byteSize()];
        tensor.raw().get(bytes);
        return bytes;
    }

    /** (level - zero point) * scale of the QDQ form, [K, N]. */
    private static float[] dequantizeQdq(OnnxModel model, String weight) {
        Tensor levels = model.tensor(weight + "_quantized");
        float[] scales = model.tensor(weight + "_scale").toFloatArray();
        Tensor zeros = model.tensor(weight + "_zero_point");
        int features = (int) levels.shape()[0];
        int outputs = (int) levels.shape()[1];
        byte[] levelBytes = bytes(levels);
        byte[] zeroBytes = bytes(zeros);
        int bits = levels.dataType() == DataType.UINT4 ? 4 : 8;
        float[] values = new float[features * outputs];
        for (int k = 0; k < features; k++) {
            for (int n = 0; n < outputs; n++) {
                int group = (k / 32) * outputs + n;
                int level = bitsAt(levelBytes, ((long) k * outputs + n) * bits, bits);
                int zero = bitsAt(zeroBytes, (long) group * bits, bits);
                values[k * outputs + n] = (level - zero) * scales[group];
            }
        }
        return values;
    }

    private static double maxDifference(float[] a, float[] b) {
        double worst = 0;
        for (int i = 0; i < a.length; i++) {
            worst = Math.max(worst, Math.abs(a[i] - b[i]));
        }
        return worst;
    }

    static Dataset inputs(int samples, long seed) {
        Random random = new Random(seed);
        float[] values = new float[samples * TOKENS * HIDDEN];
        for (int i = 0; i < values.length; i++) {
            values[i] = (float) random.nextGaussian();
        }
        return Dataset.of(NdArray.ofFloats(new long[] {samples, TOKENS, HIDDEN}, values));
    }

    static float[] run(OnnxModel model, float[] input) throws OrtException {
        OrtEnvironment environment = OrtEnvironment.getEnvironment();
        try (OrtSession.SessionOptions options = new OrtSession.SessionOptions()) {
            // the QDQ reference as written: at higher levels ONNX Runtime fuses DequantizeLinear + MatMul into its own
            // MatMulNBits with int8 activations (session.qdq_matmulnbits_accuracy_level 4), which is no longer a float reference
            options.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.NO_OPT);
            return run(environment, options, model, input);
        }
    }

    private static float[] run(OrtEnvironment environment, OrtSession.SessionOptions options, OnnxModel model, float[] input)
            throws OrtException {
        try (OrtSession session = environment.createSession(model.toBytes(), options);
                OnnxTensor tensor = OnnxTensor.createTensor(environment, FloatBuffer.wrap(input), new long[] {1, TOKENS, HIDDEN});
                OrtSession.Result result = session.run(Map.of("x", tensor))) {
            FloatBuffer buffer = ((OnnxTensor) result.get(0)).getFloatBuffer();
            float[] values = new float[buffer.remaining()];
            buffer.get(values);
            return values;
        }
    }

    /** The feed-forward block with random (seeded) weights scaled like a trained layer's (1 / sqrt(fan in)). */
    static OnnxModel feedForward() {
        Random random = new Random(42);
        GraphProto graph = GraphProto.newBuilder().setName("feed_forward")
                .addInput(value("x", -1, TOKENS, HIDDEN)).addOutput(value("y", -1, TOKENS, OUT))
                .addInitializer(Tensor.fromFloats("w1", DataType.FLOAT, new long[] {HIDDEN, INNER}, gaussian(random, HIDDEN * INNER, HIDDEN)).toProto())
                .addInitializer(Tensor.fromFloats("w2", DataType.FLOAT, new long[] {INNER, OUT}, gaussian(random, INNER * OUT, INNER)).toProto())
                .addNode(node("MatMul", List.of("x", "w1"), "h"))
                .addNode(node("Relu", List.of("h"), "r"))
                .addNode(node("MatMul", List.of("r", "w2"), "a"))
                .addNode(node("MatMul", List.of("r", "w2"), "b"))
                .addNode(node("Add", List.of("a", "b"), "y"))
                .build();
        return OnnxModel.of(ModelProto.newBuilder().setIrVersion(8).setProducerName("condense-test").setGraph(graph)
                .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(17)).build());
    }

    private static float[] gaussian(Random random, int count, int fanIn) {
        float[] values = new float[count];
        for (int i = 0; i < count; i++) {
            values[i] = (float) (random.nextGaussian() / Math.sqrt(fanIn));
        }
        return values;
    }

    private static NodeProto node(String op, List<String> inputs, String output) {
        return NodeProto.newBuilder().setOpType(op).setName(op + "_" + output).addAllInput(inputs).addOutput(output).build();
    }

    private static ValueInfoProto value(String name, long... dims) {
        TensorShapeProto.Builder shape = TensorShapeProto.newBuilder();
        for (long dim : dims) {
            shape.addDim(dim < 0 ? TensorShapeProto.Dimension.newBuilder().setDimParam("batch")
                    : TensorShapeProto.Dimension.newBuilder().setDimValue(dim));
        }
        return ValueInfoProto.newBuilder().setName(name).setType(TypeProto.newBuilder().setTensorType(
                TypeProto.Tensor.newBuilder().setElemType(1).setShape(shape))).build();
    }
}
