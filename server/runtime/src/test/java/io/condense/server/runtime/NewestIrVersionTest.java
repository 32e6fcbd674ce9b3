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
 * {@link OnnxRuntimeEvaluator#NEWEST_IR_VERSION} is this ONNX Runtime's own limit, and the evaluator runs a model that
 * declares a newer IR version but uses nothing of it (as the onnx package writes every model it makes).
 */
class NewestIrVersionTest {
    private static final Path MNIST = Path.of(System.getProperty("condense.shared.dir", "../../../shared"), "models", "mnist8", "model.onnx");

    private static OnnxModel mnistDeclaring(long irVersion) throws Exception {
        OnnxModel model = OnnxModel.fromBytes(Files.readAllBytes(MNIST));
        return OnnxModel.of(model.proto().toBuilder().setIrVersion(irVersion).build());
    }

    @Test
    void theConstantIsTheNewestIrVersionOnnxRuntimeReads() throws Exception {
        OrtEnvironment environment = OrtEnvironment.getEnvironment();
        try (OrtSession.SessionOptions options = new OrtSession.SessionOptions()) {
            try (OrtSession session = environment.createSession(mnistDeclaring(OnnxRuntimeEvaluator.NEWEST_IR_VERSION).toBytes(), options)) {
                assertThat(session.getInputNames()).hasSize(1);
            }
            byte[] newer = mnistDeclaring(OnnxRuntimeEvaluator.NEWEST_IR_VERSION + 1).toBytes();
            assertThatThrownBy(() -> environment.createSession(newer, options).close())
                    .hasMessageContaining("Unsupported model IR version: " + (OnnxRuntimeEvaluator.NEWEST_IR_VERSION + 1));
        }
        assertThat(new OnnxRuntimeEvaluator(1, 8).newestIrVersion()).isEqualTo(OnnxRuntimeEvaluator.NEWEST_IR_VERSION);
    }

    @Test
    void aModelDeclaringANewerIrVersionRunsAsTheSameModelDeclaringAnOlderOne() throws Exception {
        OnnxRuntimeEvaluator runtime = new OnnxRuntimeEvaluator(1, 8);
        float[] pixels = new float[28 * 28];
        for (int i = 0; i < pixels.length; i++) {
            pixels[i] = (i * 37 % 255) / 255f;
        }
        try (InferenceSession newer = runtime.open(mnistDeclaring(OnnxRuntimeEvaluator.NEWEST_IR_VERSION + 1));
                InferenceSession older = runtime.open(mnistDeclaring(8))) {
            Map<String, NdArray> feeds = Map.of(older.inputs().get(0).name(), NdArray.ofFloats(new long[] {1, 1, 28, 28}, pixels));
            float[] expected = older.run(feeds).values().iterator().next().toFloatArray();
            assertThat(newer.run(feeds).values().iterator().next().toFloatArray()).containsExactly(expected);
        }
    }
}
