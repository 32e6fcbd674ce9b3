package io.condense.plugin.quantization;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.OperatorSetIdProto;
import ai.onnx.proto.OnnxMl.StringStringEntryProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnx.proto.OnnxMl.TensorShapeProto;
import ai.onnx.proto.OnnxMl.TypeProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import io.condense.sdk.calibration.LayerInputGrams;
import io.condense.sdk.data.Dataset;
import io.condense.sdk.data.NdArray;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.technique.TechniqueResult;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * GPTQ's calibration with every layer input spilled (the bounded-memory path of a model over 2 GiB) gives the in-memory
 * path's model. One weight over 2 GiB (left in its file by the loader) is refused by every path but blocked round to
 * nearest (QDQ or MatMulNBits), saying so.
 */
class LargeModelQuantizationTest {
    private static final int ROWS = 16384;

    @TempDir
    Path folder;

    /**
     * GPTQ's calibration in bounded memory (the path of a model whose Grams exceed the budget, a 7B decoder's 44 GB), forced
     * on a small decoder with external data by a budget of 0: every distinct layer input is spilled to the scratch folder
     * and its Gram summed back from the file when its weights come. The written model is byte for byte the one of the
     * in-memory path, runs in ONNX Runtime, and GPTQ moves every layer's output less than round to nearest.
     */
    @Test
    void gptqWithEveryLayerInputSpilledWritesTheSameModelAsInMemoryAndBeatsRoundToNearest() throws Exception {
        Path file = DecoderWeightsModel.write(folder, "decoder.onnx", 2, 11, 64, 176);
        OnnxModel model = OnnxModel.load(file);
        Dataset calibration = Dataset.of(NdArray.ofFloats(new long[] {24, 8, 64}, activations(24 * 8, 64, 5)));
        Map<String, String> values = Map.of("bits", "4", "granularity", "block", "block", "32", "method", "gptq",
                "format", "matmulnbits");

        TechniqueResult inMemory = StaticActivationQuantizationTest.quantize(model, values, calibration);
        TechniqueResult spilled;
        System.setProperty(LayerInputGrams.MEMORY_PROPERTY, "0");
        try {
            spilled = StaticActivationQuantizationTest.quantize(model, values, calibration);
        } finally {
            System.clearProperty(LayerInputGrams.MEMORY_PROPERTY);
        }

        assertThat(inMemory.report().get("calibration_spilled_inputs")).isEqualTo(0);
        // per block: the input norm's output (q, k, v), the attention sum (o), the post norm's output (gate, up), the gated product (down)
        assertThat(spilled.report().get("calibration_spilled_inputs")).isEqualTo(8);
        assertThat(((Number) spilled.report().get("calibration_spilled_bytes")).longValue()).isEqualTo(2L * 24 * 8 * (3 * 64 + 176) * 4);
        assertThat(spilled.model().toBytes()).as("the same model as the in-memory path").isEqualTo(inMemory.model().toBytes());
        List<Map<String, Object>> layers = spilled.report().layers();
        assertThat(layers).hasSize(14).allSatisfy(layer -> {
            assertThat(layer).containsEntry("method", "gptq");
            assertThat(((Number) layer.get("output_error_gptq")).doubleValue()).as("GPTQ's output error of %s", layer.get("weight"))
                    .isLessThan(((Number) layer.get("output_error_rtn")).doubleValue());
        });

        float[] input = activations(8, 64, 99);
        float[] reference = run(model, input);
        float[] quantized = run(OnnxModel.fromBytes(spilled.model().toBytes()), input);
        assertThat(relativeRms(quantized, reference)).as("int4 GPTQ against float").isLessThan(0.2);
    }

    /** Gaussian rows with a log-normal spread of feature scales (a few large features, as in language models). */
    private static float[] activations(int rows, int features, long seed) {
        Random random = new Random(seed);
        double[] scales = new double[features];
        for (int j = 0; j < features; j++) {
            scales[j] = Math.exp(random.nextGaussian());
        }
        float[] values = new float[rows * features];
        for (int i = 0; i < values.length; i++) {
            values[i] = (float) (random.nextGaussian() * scales[i % features]);
        }
        return values;
    }

    private static float[] run(OnnxModel model, float[] input) throws OrtException {
        OrtEnvironment environment = OrtEnvironment.getEnvironment();
        try (OrtSession.SessionOptions options = new OrtSession.SessionOptions();
                OrtSession session = environment.createSession(model.toBytes(), options);
                OnnxTensor x = OnnxTensor.createTensor(environment, FloatBuffer.wrap(input), new long[] {1, input.length / 64, 64});
                OrtSession.Result result = session.run(Map.of(DecoderWeightsModel.INPUT, x))) {
            FloatBuffer buffer = ((OnnxTensor) result.get(0)).getFloatBuffer();
            float[] values = new float[buffer.remaining()];
            buffer.get(values);
            return values;
        }
    }

    private static double relativeRms(float[] actual, float[] expected) {
        double error = 0;
        double signal = 0;
        for (int i = 0; i < expected.length; i++) {
            error += (actual[i] - expected[i]) * (double) (actual[i] - expected[i]);
            signal += expected[i] * (double) expected[i];
        }
        return Math.sqrt(error / signal);
    }

    @Test
    void aWeightOverTwoGibibytesIsQuantizedOnlyInBlocksAndOtherwiseRefusedSayingSo() throws IOException {
        int columns = 32800; // 16384 x 32800 floats: 2,149,580,800 bytes, one tensor over 2 GiB
        long bytes = 4L * ROWS * columns;
        try (FileChannel channel = FileChannel.open(folder.resolve("wide.onnx.data"), StandardOpenOption.CREATE_NEW,
                StandardOpenOption.WRITE)) {
            channel.write(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putFloat(1f).flip(), bytes - 4);
        }
        TensorProto wide = TensorProto.newBuilder().setName("w").setDataType(1).addDims(ROWS).addDims(columns)
                .setDataLocation(TensorProto.DataLocation.EXTERNAL)
                .addExternalData(StringStringEntryProto.newBuilder().setKey("location").setValue("wide.onnx.data"))
                .addExternalData(StringStringEntryProto.newBuilder().setKey("length").setValue(Long.toString(bytes))).build();
        GraphProto graph = GraphProto.newBuilder().setName("wide").addInput(value("x", ROWS)).addOutput(value("y", columns))
                .addInitializer(wide).addNode(NodeProto.newBuilder().setOpType("MatMul").addInput("x").addInput("w").addOutput("y")).build();
        Files.write(folder.resolve("wide.onnx"), ModelProto.newBuilder().setIrVersion(8).setGraph(graph)
                .addOpsetImport(OperatorSetIdProto.newBuilder().setVersion(21)).build().toByteArray());
        OnnxModel model = OnnxModel.load(folder.resolve("wide.onnx"));
        assertThat(model.largeTensor("w")).isPresent();

        Dataset calibration = Dataset.of(NdArray.ofFloats(new long[] {1, 1, ROWS}, new float[ROWS]));
        // blocked RTN (QDQ or MatMulNBits) reads it piece by piece (measured by hand: integration-tests/README.md); per
        // channel 4-bit levels would need the float weight as one array
        CondenseException perChannelLowBit = catchThrowableOfType(CondenseException.class,
                () -> StaticActivationQuantizationTest.quantize(model, Map.of("bits", "4"), calibration));
        assertThat(perChannelLowBit.code()).isEqualTo(ErrorCode.UNSUPPORTED_MODEL);
        assertThat(perChannelLowBit).hasMessageContaining("'w'").hasMessageContaining("granularity=block")
                .hasMessageContaining("as QDQ or format=matmulnbits").hasMessageContaining("exclude=w");
        CondenseException perChannel = catchThrowableOfType(CondenseException.class, () -> StaticActivationQuantizationTest.quantize(model,
                Map.of("bits", "8"), calibration));
        assertThat(perChannel.code()).isEqualTo(ErrorCode.RESOURCE_EXHAUSTED);
        assertThat(perChannel).hasMessageContaining("tensor 'w'").hasMessageContaining("granularity=block");
    }

    private static ValueInfoProto value(String name, long size) {
        return ValueInfoProto.newBuilder().setName(name).setType(TypeProto.newBuilder().setTensorType(TypeProto.Tensor.newBuilder()
                .setElemType(1).setShape(TensorShapeProto.newBuilder()
                        .addDim(TensorShapeProto.Dimension.newBuilder().setDimValue(1))
                        .addDim(TensorShapeProto.Dimension.newBuilder().setDimValue(size))))).build();
    }
}
