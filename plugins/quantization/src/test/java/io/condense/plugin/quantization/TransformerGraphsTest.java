package io.condense.plugin.quantization;

import static org.assertj.core.api.Assertions.assertThat;

import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorShapeProto;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import io.condense.sdk.model.InitializerInfo;
import io.condense.sdk.model.LayerSelection;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.stats.ModelStats;
import io.condense.sdk.stats.ShapeInference;
import io.condense.sdk.technique.TechniqueResult;
import io.condense.sdk.testkit.TinyDecoder;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Transformer graphs through shape inference, statistics and weight quantization: the one-block {@link TinyDecoder} (fused
 * Q/K/V split into heads, MatMuls of two activations, a causal mask, an embedding table shared by a Gather and a
 * left-hand MatMul) and the real character language model, whose figures are checked against a count by hand.
 */
class TransformerGraphsTest {

    @ParameterizedTest(name = "batch {0}, sequence {1}")
    @CsvSource({"1, 8", "2, 5"})
    void shapesAndStatisticsOfTheTinyDecoderMatchTheHandCountAndOnnxRuntime(int batch, int sequence) throws OrtException {
        OnnxModel model = withInputShape(TinyDecoder.build(1), batch, sequence);
        ShapeInference shapes = ShapeInference.of(model);
        assertThat(shapes.shape("logits")).hasValueSatisfying(shape -> assertThat(shape).containsExactly(batch, sequence,
                TinyDecoder.VOCABULARY));
        // Q x K^T: [batch, heads, sequence, sequence]; the causal mask sliced to the sequence
        NodeProto softmax = model.nodes().stream().filter(node -> node.getOpType().equals("Softmax")).findFirst().orElseThrow();
        assertThat(shapes.shape(softmax.getOutput(0))).hasValueSatisfying(shape -> assertThat(shape)
                .containsExactly(batch, TinyDecoder.HEADS, sequence, sequence));

        ModelStats stats = ModelStats.of(model);
        assertThat(stats.parameters()).as("the tied table counted once").isEqualTo(TinyDecoder.PARAMETERS);
        assertThat(stats.macs()).isEqualTo(batch * TinyDecoder.macs(sequence));
        assertThat(stats.macsByNode()).hasSize(7).doesNotContainValue(0L);

        // layer selection: the four projection weights and the tied table (read by the head MatMul on its left-hand side,
        // output channels on axis 0 = the vocabulary), each one candidate; the MatMuls of two activations are no layers
        LayerSelection.Result selected = new LayerSelection(List.of(), 0).select(model, model.weightLayers());
        assertThat(selected.candidates()).extracting(LayerSelection.Candidate::weightName)
                .containsExactly("qkv.weight", "proj.weight", "up.weight", "down.weight", "embeddings");
        assertThat(selected.candidates().get(4).outputChannelAxis()).isZero();

        float[] logits = run(model, tokens(batch, sequence, 3), batch, sequence);
        assertThat(logits).hasSize(batch * sequence * TinyDecoder.VOCABULARY);
    }

    @Test
    void characterLanguageModelStatisticsMatchTheHandCount() {
        OnnxModel model = withInputShape(CharLanguageModel.load().onnx(), 1, 64);
        ModelStats stats = ModelStats.of(model);
        // by hand (width 192, 4 heads of 48, MLP 768, 63 characters, 3 blocks, 64 tokens): per block Q, K, V and the
        // projection 4 x 64 x 192 x 192 = 9,437,184, MLP 2 x 64 x 192 x 768 = 18,874,368, Q x K^T and scores x V
        // 2 x 4 x 64 x 64 x 48 = 1,572,864; the head 64 x 192 x 63 = 774,144: 3 x 29,884,416 + 774,144
        assertThat(stats.macs()).isEqualTo(90_427_392L);
        assertThat(stats.parameters()).isEqualTo(1_371_519L);
        assertThat(stats.macsByNode()).hasSize(25).doesNotContainValue(0L);
        assertThat(stats.macsByNode()).containsEntry("/blocks.0/MatMul", 786_432L).containsEntry("/blocks.2/MatMul_1", 786_432L)
                .containsEntry("/blocks.1/up/MatMul", 9_437_184L).containsEntry("/head/MatMul", 774_144L);
        assertThat(ShapeInference.of(model).shape("logits")).hasValueSatisfying(shape -> assertThat(shape).containsExactly(1, 64, 63));
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = ';', value = {"bits=8; 0.02", "bits=4, granularity=block, block=32; 0.15",
        "bits=4, granularity=block, block=32, format=matmulnbits; 0.15", "bits=4, granularity=block, block=32, method=gptq; 0.15"})
    void aTiedEmbeddingTableIsQuantizedOnceAndTheResultRuns(String pipeline, double tolerance) throws OrtException {
        OnnxModel model = TinyDecoder.build(1);
        Map<String, String> values = new LinkedHashMap<>();
        for (String pair : pipeline.split(",")) {
            values.put(pair.split("=")[0].trim(), pair.split("=")[1].trim());
        }
        TechniqueResult result = values.containsKey("method")
                ? StaticActivationQuantizationTest.quantize(model, values, calibration())
                : QuantizeTechniqueTest.quantize(model, values);
        OnnxModel written = OnnxModel.fromBytes(result.model().toBytes());

        List<String> tables = written.initializers().stream().map(InitializerInfo::name).filter(name -> name.startsWith("embeddings"))
                .toList();
        assertThat(written.isInitializer("embeddings")).as("no float copy left").isFalse();
        assertThat(tables).as("one set of levels, scales and zero points").hasSize(3);
        NodeProto gather = written.nodes().stream().filter(node -> node.getOpType().equals("Gather") && node.getInput(1).equals("tokens"))
                .findFirst().orElseThrow();
        NodeProto head = written.nodes().stream().filter(node -> node.getOpType().equals("MatMul") && node.getInput(0).startsWith("embeddings"))
                .findFirst().orElseThrow();
        assertThat(gather.getInput(0)).as("the Gather and the head read the same dequantized table").isEqualTo(head.getInput(0));

        float[] expected = run(model, tokens(2, 8, 5), 2, 8);
        float[] actual = run(written, tokens(2, 8, 5), 2, 8);
        double error = 0;
        double signal = 0;
        for (int i = 0; i < expected.length; i++) {
            error += (expected[i] - actual[i]) * (double) (expected[i] - actual[i]);
            signal += expected[i] * (double) expected[i];
        }
        System.out.printf("tiny decoder, quantize(%s): relative RMS difference of the logits %.4f%n", pipeline, Math.sqrt(error / signal));
        assertThat(Math.sqrt(error / signal)).as("relative RMS difference of the logits").isLessThan(tolerance);
    }

    private static io.condense.sdk.data.Dataset calibration() {
        long[] values = tokens(32, TinyDecoder.CONTEXT, 9);
        return io.condense.sdk.data.Dataset.of(io.condense.sdk.data.NdArray.ofLongs(new long[] {32, TinyDecoder.CONTEXT}, values));
    }

    /** A copy whose first input has these sizes instead of its free batch and sequence dimensions. */
    static OnnxModel withInputShape(OnnxModel model, long batch, long sequence) {
        ModelProto.Builder proto = model.proto().toBuilder();
        TensorShapeProto.Builder shape = proto.getGraphBuilder().getInputBuilder(0).getTypeBuilder().getTensorTypeBuilder().getShapeBuilder();
        shape.getDimBuilder(0).clear().setDimValue(batch);
        shape.getDimBuilder(1).clear().setDimValue(sequence);
        return OnnxModel.of(proto.build());
    }

    private static long[] tokens(int batch, int sequence, long seed) {
        Random random = new Random(seed);
        long[] tokens = new long[batch * sequence];
        for (int i = 0; i < tokens.length; i++) {
            tokens[i] = random.nextInt(TinyDecoder.VOCABULARY);
        }
        return tokens;
    }

    private static float[] run(OnnxModel model, long[] tokens, int batch, int sequence) throws OrtException {
        OrtEnvironment environment = OrtEnvironment.getEnvironment();
        try (OrtSession.SessionOptions options = new OrtSession.SessionOptions();
                OrtSession session = environment.createSession(model.toBytes(), options);
                OnnxTensor input = OnnxTensor.createTensor(environment, LongBuffer.wrap(tokens), new long[] {batch, sequence});
                OrtSession.Result result = session.run(Map.of("tokens", input))) {
            FloatBuffer buffer = ((OnnxTensor) result.get(0)).getFloatBuffer();
            float[] values = new float[buffer.remaining()];
            buffer.get(values);
            return values;
        }
    }
}
