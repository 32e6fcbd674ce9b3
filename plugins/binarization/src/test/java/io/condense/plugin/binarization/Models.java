package io.condense.plugin.binarization;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.OperatorSetIdProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnx.proto.OnnxMl.TensorShapeProto;
import ai.onnx.proto.OnnxMl.TypeProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import io.condense.sdk.data.Dataset;
import io.condense.sdk.data.NdArray;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.technique.Parameters;
import io.condense.sdk.technique.Technique;
import io.condense.sdk.technique.TechniqueResult;
import io.condense.sdk.tensor.DataType;
import io.condense.sdk.tensor.Tensor;
import io.condense.sdk.testkit.SharedData;
import io.condense.sdk.testkit.TestStepContext;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.util.Map;
import java.util.Random;

/** Helpers the technique tests share: running a technique, the digits each MNIST model wants, a tiny two-layer model. */
final class Models {
    static final int DIGITS = 1000;

    private Models() {
    }

    static TechniqueResult apply(Technique technique, OnnxModel model, Map<String, String> values) {
        Parameters parameters = Parameters.validate(technique.descriptor().parameters(), values);
        try (TestStepContext context = TestStepContext.builder().technique(technique, values).build()) {
            return technique.apply(model, parameters, context);
        }
    }

    static TechniqueResult apply(Technique technique, OnnxModel model, Map<String, String> values, Dataset evaluationData) {
        Parameters parameters = Parameters.validate(technique.descriptor().parameters(), values);
        try (TestStepContext context = TestStepContext.builder().technique(technique, values).evaluationData(evaluationData).build()) {
            return technique.apply(model, parameters, context);
        }
    }

    /** Runs a technique with evaluation data and, when not null, calibration data. */
    static TechniqueResult apply(Technique technique, OnnxModel model, Map<String, String> values, Dataset evaluationData,
            Dataset calibrationData) {
        Parameters parameters = Parameters.validate(technique.descriptor().parameters(), values);
        TestStepContext.Builder builder = TestStepContext.builder().technique(technique, values);
        if (evaluationData != null) {
            builder.evaluationData(evaluationData);
        }
        if (calibrationData != null) {
            builder.calibrationData(calibrationData);
        }
        try (TestStepContext context = builder.build()) {
            return technique.apply(model, parameters, context);
        }
    }

    /**
     * {@code count} digits for calibration, taken after the {@link #DIGITS} used for evaluation so the two sets do not
     * overlap, scaled as {@link #digitsFor} scales them.
     */
    static Dataset calibrationDigitsFor(String model, int count) {
        Dataset digits = SharedData.mnistDigits(DIGITS + count, model.startsWith("mnist8") ? 1f / 255 : 1f);
        return Dataset.of(digits.inputs().slice(DIGITS, count));
    }

    /** UltraFace RFB-320's two sample photos ({@code test_data/img1_input_0.pb}, {@code img2}) as one [2, 3, 240, 320] input. */
    static Dataset ultrafacePhotos() {
        float[] pixels = new float[2 * 3 * 240 * 320];
        for (int photo = 0; photo < 2; photo++) {
            try {
                byte[] bytes = Files.readAllBytes(SharedData.model("ultraface/test_data/img" + (photo + 1) + "_input_0.pb"));
                float[] values = Tensor.fromProto(TensorProto.parseFrom(bytes)).toFloatArray();
                System.arraycopy(values, 0, pixels, photo * values.length, values.length);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return Dataset.of(NdArray.ofFloats(new long[] {2, 3, 240, 320}, pixels));
    }

    /** mnist8 takes pixels / 255, pytorch_cnn_mnist raw 0..255 pixels. */
    static Dataset digitsFor(String model) {
        return SharedData.mnistDigits(DIGITS, model.startsWith("mnist8") ? 1f / 255 : 1f);
    }

    /** x [N, 8] -> Gemm(fc1, 4 out, transB=1) -> Relu -> Gemm(fc2, 3 out, transB=1) -> y [N, 3]: only a first and a last layer. */
    static OnnxModel twoLayers() {
        Random random = new Random(3);
        GraphProto graph = GraphProto.newBuilder().setName("two_layers")
                .addInput(value("x", 8))
                .addOutput(value("y", 3))
                .addInitializer(weights("fc1.weight", 4, 8, random))
                .addInitializer(weights("fc2.weight", 3, 4, random))
                .addNode(gemm("fc1", "x", "fc1.weight", "hidden"))
                .addNode(NodeProto.newBuilder().setName("relu").setOpType("Relu").addInput("hidden").addOutput("activated"))
                .addNode(gemm("fc2", "activated", "fc2.weight", "y"))
                .build();
        return OnnxModel.of(ModelProto.newBuilder().setIrVersion(7).setProducerName("test")
                .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(13)).setGraph(graph).build());
    }

    private static NodeProto gemm(String name, String input, String weight, String output) {
        return NodeProto.newBuilder().setName(name).setOpType("Gemm").addInput(input).addInput(weight).addOutput(output)
                .addAttribute(AttributeProto.newBuilder().setName("transB").setType(AttributeProto.AttributeType.INT).setI(1)).build();
    }

    private static TensorProto weights(String name, int rows, int columns, Random random) {
        float[] values = new float[rows * columns];
        for (int i = 0; i < values.length; i++) {
            values[i] = (float) random.nextGaussian();
        }
        return Tensor.fromFloats(name, DataType.FLOAT, new long[] {rows, columns}, values).toProto();
    }

    private static ValueInfoProto value(String name, int features) {
        TensorShapeProto shape = TensorShapeProto.newBuilder()
                .addDim(TensorShapeProto.Dimension.newBuilder().setDimParam("N"))
                .addDim(TensorShapeProto.Dimension.newBuilder().setDimValue(features)).build();
        return ValueInfoProto.newBuilder().setName(name).setType(TypeProto.newBuilder().setTensorType(
                TypeProto.Tensor.newBuilder().setElemType(TensorProto.DataType.FLOAT_VALUE).setShape(shape))).build();
    }
}
