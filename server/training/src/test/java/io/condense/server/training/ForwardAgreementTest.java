package io.condense.server.training;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.onnx.proto.OnnxMl.TensorProto;
import io.condense.sdk.data.Dataset;
import io.condense.sdk.data.NdArray;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.eval.Evaluator;
import io.condense.sdk.eval.InferenceSession;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.tensor.Tensor;
import io.condense.sdk.testkit.SharedData;
import io.condense.sdk.training.Trainer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Random;
import java.util.ServiceLoader;
import org.junit.jupiter.api.Test;

/** The interpreter's forward outputs against ONNX Runtime (the host's evaluator) on real and built models. */
class ForwardAgreementTest {
    private static final Trainer TRAINER = ServiceLoader.load(Trainer.class).findFirst().orElseThrow();
    private static final Evaluator RUNTIME = ServiceLoader.load(Evaluator.class).findFirst().orElseThrow();

    @Test
    void trainerIsFoundThroughServiceLoader() {
        assertThat(TRAINER).isInstanceOf(PyTorchTrainer.class);
    }

    @Test
    void mnist8AgreesWithOnnxRuntime() throws IOException {
        OnnxModel model = OnnxModel.load(SharedData.model("mnist8/model.onnx"));
        NdArray input = read(SharedData.model("mnist8/test_data_set_0/input_0.pb"));
        NdArray expected = read(SharedData.model("mnist8/test_data_set_0/output_0.pb"));
        assertAgrees(model, Map.of("Input3", input), 1e-4);
        NdArray ours = TRAINER.run(model, Map.of("Input3", input)).get("Plus214_Output_0");
        assertClose(ours.toFloatArray(), expected.toFloatArray(), 1e-4);
    }

    @Test
    void pytorchCnnAgreesWithOnnxRuntimeOnABatch() {
        OnnxModel model = OnnxModel.load(SharedData.model("pytorch_cnn_mnist.onnx"));
        Dataset digits = SharedData.mnistDigits(32, 1f);
        assertAgrees(model, Map.of("input_image", digits.inputs()), 1e-4);
        assertThat(TRAINER.accuracy(model, digits, 1f, 16)).isGreaterThan(0.9);
    }

    @Test
    void ultraFaceAgreesWithOnnxRuntime() throws IOException {
        OnnxModel model = OnnxModel.load(SharedData.model("ultraface/version-RFB-320.onnx"));
        NdArray input = read(SharedData.model("ultraface/test_data/img1_input_0.pb"));
        // Conv (incl. depthwise), BatchNormalization, Relu, Concat, Reshape, Transpose, Softmax and the box decoding
        // (Shape, Gather, Unsqueeze, Slice, Exp, Mul, Add, Sub, Div, Constant) are all interpreted.
        assertThat(TRAINER.unsupportedOperators(model)).isEmpty();
        assertAgrees(model, Map.of(model.inputs().get(0).getName(), input), 1e-3);
    }

    @Test
    void builtLeNetsAgreeWithOnnxRuntime() {
        NdArray images = randomImages(8, new Random(3));
        assertAgrees(GraphBuilder.leNet300100(1), Map.of("image", images), 1e-4);
        assertAgrees(GraphBuilder.leNet5(1), Map.of("image", images), 1e-4);
    }

    /** Every other operator of the supported list, with the attributes that change their meaning. */
    @Test
    void operatorZooAgreesWithOnnxRuntime() {
        OnnxModel model = OperatorZoo.model(13);
        NdArray images = randomImages(4, new Random(5));
        assertAgrees(model, Map.of("image", images), 1e-4);
        OnnxModel old = OperatorZoo.model(9);
        assertAgrees(old, Map.of("image", images), 1e-4);
    }

    @Test
    void missingInputIsAClearError() {
        assertThatThrownBy(() -> TRAINER.run(GraphBuilder.leNet5(1), Map.of()))
                .isInstanceOfSatisfying(CondenseException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.INVALID_DATA))
                .hasMessageContaining("image");
    }

    static NdArray randomImages(int count, Random random) {
        float[] values = new float[count * 28 * 28];
        for (int i = 0; i < values.length; i++) {
            values[i] = random.nextFloat();
        }
        return NdArray.ofFloats(new long[] {count, 1, 28, 28}, values);
    }

    static NdArray read(Path file) throws IOException {
        Tensor tensor = Tensor.fromProto(TensorProto.parseFrom(Files.readAllBytes(file)));
        return NdArray.ofFloats(tensor.shape(), tensor.toFloatArray());
    }

    static void assertAgrees(OnnxModel model, Map<String, NdArray> inputs, double tolerance) {
        Map<String, NdArray> ours = TRAINER.run(model, inputs);
        Map<String, NdArray> reference;
        try (InferenceSession session = RUNTIME.open(model)) {
            reference = session.run(inputs);
        }
        assertThat(ours.keySet()).containsExactlyInAnyOrderElementsOf(reference.keySet());
        for (String name : reference.keySet()) {
            assertThat(ours.get(name).shape()).as(name).containsExactly(reference.get(name).shape());
            assertClose(ours.get(name).toFloatArray(), reference.get(name).toFloatArray(), tolerance);
        }
    }

    static void assertClose(float[] actual, float[] expected, double tolerance) {
        assertThat(actual).hasSameSizeAs(expected);
        double scale = 0;
        for (float v : expected) {
            scale = Math.max(scale, Math.abs(v));
        }
        double worst = 0;
        for (int i = 0; i < actual.length; i++) {
            worst = Math.max(worst, Math.abs(actual[i] - expected[i]));
        }
        assertThat(worst).as("largest difference against a largest magnitude of %s", scale).isLessThanOrEqualTo(tolerance * Math.max(1, scale));
    }

}
