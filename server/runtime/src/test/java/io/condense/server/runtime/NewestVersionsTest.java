package io.condense.server.runtime;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import io.condense.sdk.data.NdArray;
import io.condense.sdk.eval.InferenceSession;
import io.condense.sdk.model.OnnxModel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * {@link OnnxRuntimeEvaluator#NEWEST_IR_VERSION} and {@link OnnxRuntimeEvaluator#NEWEST_OPSET} are this ONNX Runtime's own
 * limits, and the evaluator runs a model that declares newer ones but needs nothing of them (as the onnx package writes
 * every model it makes: IR version 14 and, without opset imports, opset 28).
 */
class NewestVersionsTest {
    private static final Path MNIST = Path.of(System.getProperty("condense.shared.dir", "../../../shared"), "models", "mnist8", "model.onnx");

    private static OnnxModel mnistDeclaring(long irVersion) throws Exception {
        OnnxModel model = OnnxModel.fromBytes(Files.readAllBytes(MNIST));
        return OnnxModel.of(model.proto().toBuilder().setIrVersion(irVersion).build());
    }

    /** mnist8 (Conv, Add, Relu, MaxPool, Reshape, MatMul: none changed after opset 25) importing {@code opset}, at IR 10. */
    private static OnnxModel mnistImporting(long opset) throws Exception {
        OnnxModel model = OnnxModel.fromBytes(Files.readAllBytes(MNIST));
        var proto = model.proto().toBuilder().setIrVersion(10);
        proto.setOpsetImport(0, proto.getOpsetImport(0).toBuilder().setVersion(opset));
        return OnnxModel.of(proto.build());
    }

    @Test
    void theOpsetConstantIsTheNewestOnnxRuntimeRuns() throws Exception {
        assertNewestOpensAndTheNextIsRefused(mnistImporting(OnnxRuntimeEvaluator.NEWEST_OPSET),
                mnistImporting(OnnxRuntimeEvaluator.NEWEST_OPSET + 1), "opset");
        assertThat(new OnnxRuntimeEvaluator(1, 8).newestOpset()).isEqualTo(OnnxRuntimeEvaluator.NEWEST_OPSET);
    }

    /** ONNX Runtime itself opens {@code newest} and refuses {@code next} saying {@code refusal}. */
    private static void assertNewestOpensAndTheNextIsRefused(OnnxModel newest, OnnxModel next, String refusal) throws Exception {
        OrtEnvironment environment = OrtEnvironment.getEnvironment();
        try (OrtSession.SessionOptions options = new OrtSession.SessionOptions()) {
            try (OrtSession session = environment.createSession(newest.toBytes(), options)) {
                assertThat(session.getInputNames()).hasSize(1);
            }
            byte[] newer = next.toBytes();
            assertThatThrownBy(() -> environment.createSession(newer, options).close()).hasMessageContaining(refusal);
        }
    }

    @Test
    void aModelImportingTheOnnxPackagesNewestOpsetRunsWhenItsOperatorsAreTheSameThere() throws Exception {
        assertSameOutputs(mnistImporting(28), mnistImporting(13));
    }

    /** Both models open in the evaluator and answer one image alike. */
    private static void assertSameOutputs(OnnxModel newer, OnnxModel older) throws Exception {
        OnnxRuntimeEvaluator runtime = new OnnxRuntimeEvaluator(1, 8);
        float[] pixels = new float[28 * 28];
        for (int i = 0; i < pixels.length; i++) {
            pixels[i] = (i * 37 % 255) / 255f;
        }
        try (InferenceSession newerSession = runtime.open(newer); InferenceSession olderSession = runtime.open(older)) {
            Map<String, NdArray> feeds = Map.of(olderSession.inputs().get(0).name(), NdArray.ofFloats(new long[] {1, 1, 28, 28}, pixels));
            float[] expected = olderSession.run(feeds).values().iterator().next().toFloatArray();
            assertThat(newerSession.run(feeds).values().iterator().next().toFloatArray()).containsExactly(expected);
        }
    }

    @Test
    void theConstantIsTheNewestIrVersionOnnxRuntimeReads() throws Exception {
        assertNewestOpensAndTheNextIsRefused(mnistDeclaring(OnnxRuntimeEvaluator.NEWEST_IR_VERSION),
                mnistDeclaring(OnnxRuntimeEvaluator.NEWEST_IR_VERSION + 1),
                "Unsupported model IR version: " + (OnnxRuntimeEvaluator.NEWEST_IR_VERSION + 1));
        assertThat(new OnnxRuntimeEvaluator(1, 8).newestIrVersion()).isEqualTo(OnnxRuntimeEvaluator.NEWEST_IR_VERSION);
    }

    @Test
    void aModelDeclaringANewerIrVersionRunsAsTheSameModelDeclaringAnOlderOne() throws Exception {
        assertSameOutputs(mnistDeclaring(OnnxRuntimeEvaluator.NEWEST_IR_VERSION + 1), mnistDeclaring(8));
    }
}
