package io.condense.server.runtime;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import com.google.protobuf.ByteString;
import io.condense.sdk.data.Dataset;
import io.condense.sdk.data.NdArray;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.eval.EvaluationRequest;
import io.condense.sdk.eval.EvaluationResult;
import io.condense.sdk.eval.InferenceSession;
import io.condense.sdk.eval.ValueSpec;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.tensor.DataType;
import io.condense.sdk.testkit.Evaluators;
import io.condense.sdk.testkit.SharedData;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class OnnxRuntimeEvaluatorTest {
    private final OnnxRuntimeEvaluator evaluator = new OnnxRuntimeEvaluator();

    @Test
    void isFoundByServiceLoader() {
        assertThat(Evaluators.fromServiceLoader()).isInstanceOf(OnnxRuntimeEvaluator.class);
    }

    @Test
    void mnist8ReproducesTheReferenceOutputExactly() throws Exception {
        OnnxModel model = OnnxModel.load(SharedData.model("mnist8/model.onnx"));
        TensorProto input = TensorProto.parseFrom(Files.readAllBytes(SharedData.model("mnist8/test_data_set_0/input_0.pb")));
        TensorProto expected = TensorProto.parseFrom(Files.readAllBytes(SharedData.model("mnist8/test_data_set_0/output_0.pb")));
        try (InferenceSession session = evaluator.open(model)) {
            assertThat(session.inputs()).hasSize(1);
            ValueSpec in = session.inputs().get(0);
            assertThat(in.name()).isEqualTo("Input3");
            assertThat(in.dataType()).isEqualTo(DataType.FLOAT);
            assertThat(in.shape()).containsExactly(1, 1, 28, 28);
            assertThat(session.outputs()).extracting(ValueSpec::name).containsExactly("Plus214_Output_0");
            Map<String, NdArray> outputs = session.run(Map.of("Input3",
                    NdArray.ofFloats(TestModels.dims(input), TestModels.floats(input))));
            NdArray output = outputs.get("Plus214_Output_0");
            assertThat(output.shape()).containsExactly(TestModels.dims(expected));
            // equal up to float rounding: the kernels ONNX Runtime picks on this CPU differ from the reference's in the
            // last bits (at most a few units in the last place); bit-exact equality does not hold at any optimization level
            float[] reference = TestModels.floats(expected);
            float[] actual = output.floatData();
            for (int i = 0; i < reference.length; i++) {
                assertThat(actual[i]).as("class %d", i).isCloseTo(reference[i], within(Math.abs(reference[i]) * 2e-6f + 1e-7f));
            }
            assertThat(argmax(actual)).isEqualTo(argmax(reference));
        }
    }

    @Test
    void sessionsForRunsAtOnceShareTheProcessorsUnlessTheThreadsAreSet() {
        // ONNX Runtime's choice (0) for one run at once; the processors divided among runs at once, at least one each
        assertThat(OnnxRuntimeEvaluator.intraOpThreads(0, 1, 8)).isZero();
        assertThat(OnnxRuntimeEvaluator.intraOpThreads(0, 2, 8)).isEqualTo(4);
        assertThat(OnnxRuntimeEvaluator.intraOpThreads(0, 2, 2)).isEqualTo(1);
        assertThat(OnnxRuntimeEvaluator.intraOpThreads(0, 3, 2)).isEqualTo(1);
        // a number set by the operator (condense.runtime.threads) stands
        assertThat(OnnxRuntimeEvaluator.intraOpThreads(3, 2, 8)).isEqualTo(3);
        assertThat(OnnxRuntimeEvaluator.intraOpThreads(1, 1, 8)).isEqualTo(1);
    }

    @Test
    void aSessionForRunsAtOnceAnswersAsOneForOneRun() {
        OnnxModel model = OnnxModel.load(SharedData.model("mnist8/model.onnx"));
        NdArray input = NdArray.ofFloats(new long[] {1, 1, 28, 28}, new float[28 * 28]);
        try (InferenceSession one = evaluator.open(model); InferenceSession shared = evaluator.open(model, 2)) {
            assertThat(shared.run(Map.of("Input3", input)).get("Plus214_Output_0").floatData())
                    .containsExactly(one.run(Map.of("Input3", input)).get("Plus214_Output_0").floatData());
        }
        assertThatThrownBy(() -> evaluator.open(model, 0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("runsAtOnce must be at least 1");
    }

    @Test
    void closingWaitsForTheRunsInProgressAndRefusesLaterOnes() throws Exception {
        // a batch of 256 digits through the MNIST CNN: runs long enough to be in progress when the session is closed
        OnnxModel model = OnnxModel.load(SharedData.model("pytorch_cnn_mnist.onnx"));
        NdArray batch = NdArray.ofFloats(new long[] {256, 1, 28, 28}, new float[256 * 28 * 28]);
        InferenceSession session = evaluator.open(model, 2);
        java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(2);
        try {
            java.util.concurrent.CountDownLatch started = new java.util.concurrent.CountDownLatch(2);
            java.util.List<java.util.concurrent.Future<Map<String, NdArray>>> runs = new java.util.ArrayList<>();
            for (int i = 0; i < 2; i++) {
                runs.add(pool.submit(() -> {
                    started.countDown();
                    Map<String, NdArray> outputs = null;
                    for (int repeat = 0; repeat < 20; repeat++) {
                        try {
                            outputs = session.run(Map.of("input_image", batch));
                        } catch (CondenseException e) {
                            assertThat(e.code()).isEqualTo(ErrorCode.RUNTIME_FAILURE);
                            assertThat(e).hasMessageContaining("closed before this run started");
                            break;
                        }
                    }
                    return outputs;
                }));
            }
            started.await();
            session.close();
            for (java.util.concurrent.Future<Map<String, NdArray>> run : runs) {
                Map<String, NdArray> outputs = run.get();
                // every run either ended with its outputs or was refused; none ran on a freed session
                if (outputs != null) {
                    assertThat(outputs.values().iterator().next().shape()[0]).isEqualTo(256);
                }
            }
            session.close();
            assertThatThrownBy(() -> session.run(Map.of("input_image", batch))).isInstanceOf(CondenseException.class)
                    .hasMessageContaining("closed before this run started");
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void mnist8IsAccurateOnTheSharedDigitsScaledToUnitRange() {
        OnnxModel model = OnnxModel.load(SharedData.model("mnist8/model.onnx"));
        EvaluationResult result = evaluator.compare(model, model, EvaluationRequest.of(SharedData.mnistDigits(1000, 1f / 255), 1000));
        assertThat(result.samples()).isEqualTo(1000);
        assertThat(result.accuracyBefore().getAsDouble()).isGreaterThanOrEqualTo(0.98);
        assertThat(result.accuracyAfter()).isEqualTo(result.accuracyBefore());
        assertThat(result.top1Agreement()).isEqualTo(1.0);
        assertThat(result.sqnrDb()).isEqualTo(Double.POSITIVE_INFINITY);
        assertThat(result.cosineSimilarity()).isCloseTo(1.0, within(1e-9));
    }

    @Test
    void pytorchCnnIsAccurateOnRawPixelsInDynamicBatches() {
        OnnxModel model = OnnxModel.load(SharedData.model("pytorch_cnn_mnist.onnx"));
        try (InferenceSession session = evaluator.open(model)) {
            assertThat(session.inputs().get(0).shape()).containsExactly(-1, 1, 28, 28);
        }
        EvaluationResult result = evaluator.compare(model, model, EvaluationRequest.of(SharedData.mnistDigits(1000, 1f), 1000));
        assertThat(result.samples()).isEqualTo(1000);
        assertThat(result.accuracyBefore().getAsDouble()).isGreaterThanOrEqualTo(0.98);
        assertThat(result.top1Agreement()).isEqualTo(1.0);
        assertThat(result.sqnrDb()).isInfinite().isPositive();
    }

    @Test
    void uint8DigitsAreReshapedAndConvertedToTheModelsInput() {
        OnnxModel model = OnnxModel.load(SharedData.model("pytorch_cnn_mnist.onnx"));
        Dataset bytes = SharedData.mnistDigitsAsBytes(300);
        assertThat(bytes.inputs().shape()).containsExactly(300, 28, 28);
        EvaluationResult fromBytes = evaluator.compare(model, model, EvaluationRequest.of(bytes, 300));
        EvaluationResult fromFloats = evaluator.compare(model, model, EvaluationRequest.of(SharedData.mnistDigits(300, 1f), 300));
        assertThat(fromBytes.accuracyBefore()).isEqualTo(fromFloats.accuracyBefore());
        assertThat(fromBytes.accuracyBefore().getAsDouble()).isGreaterThanOrEqualTo(0.97);
    }

    @Test
    void maxSamplesLimitsTheDataUsed() {
        OnnxModel model = OnnxModel.load(SharedData.model("mnist8/model.onnx"));
        EvaluationResult result = evaluator.compare(model, model, EvaluationRequest.of(SharedData.mnistDigits(50, 1f / 255), 7));
        assertThat(result.samples()).isEqualTo(7);
    }

    @Test
    void aPerturbedModelAgreesClosely() throws Exception {
        OnnxModel model = OnnxModel.load(SharedData.model("mnist8/model.onnx"));
        OnnxModel perturbed = scaleFirstFloatInitializer(model, 1.01f);
        EvaluationResult result = evaluator.compare(model, perturbed, EvaluationRequest.of(SharedData.mnistDigits(200, 1f / 255), 200));
        assertThat(result.sqnrDb()).isFinite().isGreaterThan(20).isLessThan(80);
        assertThat(result.cosineSimilarity()).isGreaterThan(0.99).isLessThan(1.0);
        assertThat(result.top1Agreement()).isGreaterThan(0.95);
        assertThat(result.accuracyAfter().getAsDouble()).isGreaterThan(0.95);
    }

    @Test
    void theDiscordantCountsAddUpToTheAccuracyDrop() throws Exception {
        OnnxModel model = OnnxModel.load(SharedData.model("mnist8/model.onnx"));
        OnnxModel perturbed = scaleFirstFloatInitializer(model, -0.3f);
        EvaluationResult result = evaluator.compare(model, perturbed, EvaluationRequest.of(SharedData.mnistDigits(1000, 1f / 255), 1000));
        long lost = result.samplesLost().orElseThrow();
        long gained = result.samplesGained().orElseThrow();
        assertThat(lost).isPositive();
        assertThat((double) (lost - gained) / result.samples())
                .isCloseTo(result.accuracyBefore().getAsDouble() - result.accuracyAfter().getAsDouble(), within(1e-12));
        // a sample changes from right to wrong or back only if its class changed
        assertThat(lost + gained).isLessThanOrEqualTo(Math.round((1 - result.top1Agreement()) * result.samples()));
        assertThat(result.toMap()).containsEntry("samples_lost", lost).containsEntry("samples_gained", gained);
        EvaluationResult unlabelled = evaluator.compare(model, perturbed, EvaluationRequest.generated(3));
        assertThat(unlabelled.samplesLost()).isEmpty();
        assertThat(unlabelled.toMap()).doesNotContainKey("samples_lost");
    }

    @Test
    void aModelOverTheInlineLimitRunsFromAFileWithItsExternalDataAndGivesTheSameResults() throws Exception {
        OnnxModel model = OnnxModel.load(SharedData.model("mnist8/model.onnx"));
        OnnxModel perturbed = scaleFirstFloatInitializer(model, 1.01f);
        EvaluationRequest request = EvaluationRequest.of(SharedData.mnistDigits(100, 1f / 255), 100);
        EvaluationResult inMemory = evaluator.compare(model, perturbed, request);
        // a limit of 0 bytes: every model goes to ONNX Runtime as model.onnx + model.onnx.data in a temporary folder
        OnnxRuntimeEvaluator fromFiles = new OnnxRuntimeEvaluator(0, OnnxRuntimeEvaluator.DEFAULT_BATCH_SIZE, 0);
        EvaluationResult external = fromFiles.compare(model, perturbed, request);
        assertThat(external.accuracyBefore()).isEqualTo(inMemory.accuracyBefore());
        assertThat(external.accuracyAfter()).isEqualTo(inMemory.accuracyAfter());
        assertThat(external.sqnrDb()).isEqualTo(inMemory.sqnrDb());
        assertThat(external.top1Agreement()).isEqualTo(inMemory.top1Agreement());
        assertThatThrownBy(() -> new OnnxRuntimeEvaluator(0, 8, -1)).hasMessageContaining("inlineLimitBytes");
    }

    @Test
    void generatedInputsRunAndAModelAgreesWithItself() {
        OnnxModel model = OnnxModel.load(SharedData.model("pytorch_cnn_mnist.onnx"));
        EvaluationResult result = evaluator.compare(model, model, EvaluationRequest.generated(5));
        assertThat(result.samples()).isEqualTo(5);
        assertThat(result.accuracyBefore()).isEmpty();
        assertThat(result.top1Agreement()).isEqualTo(1.0);
        assertThat(result.sqnrDb()).isEqualTo(Double.POSITIVE_INFINITY);
        assertThat(result.cosineSimilarity()).isCloseTo(1.0, within(1e-9));
        assertThat(result.toMap()).containsEntry("sqnr_db", Double.POSITIVE_INFINITY);
    }

    @Test
    void generatedInputsDependOnTheSeed() {
        OnnxModel model = OnnxModel.load(SharedData.model("mnist8/model.onnx"));
        OnnxModel perturbed = scaleFirstFloatInitializer(model, 1.05f);
        EvaluationRequest first = new EvaluationRequest(Optional.empty(), 3, 0, 1L);
        EvaluationRequest again = new EvaluationRequest(Optional.empty(), 3, 0, 1L);
        EvaluationRequest other = new EvaluationRequest(Optional.empty(), 3, 0, 2L);
        assertThat(evaluator.compare(model, perturbed, first).sqnrDb())
                .isEqualTo(evaluator.compare(model, perturbed, again).sqnrDb())
                .isNotEqualTo(evaluator.compare(model, perturbed, other).sqnrDb());
    }

    @Test
    void ultrafaceRunsOnGeneratedInputsWithEveryAnchorARow() {
        OnnxModel model = OnnxModel.load(SharedData.model("ultraface/version-RFB-320.onnx"));
        try (InferenceSession session = evaluator.open(model)) {
            assertThat(session.inputs()).hasSize(1);
            assertThat(session.inputs().get(0).shape()).containsExactly(1, 3, 240, 320);
            assertThat(session.outputs()).extracting(ValueSpec::name).containsExactly("scores", "boxes");
            assertThat(session.outputs().get(0).shape()).containsExactly(1, 4420, 2);
            assertThat(session.outputs().get(1).shape()).containsExactly(1, 4420, 4);
        }
        EvaluationResult itself = evaluator.compare(model, model, EvaluationRequest.generated(2).withLatencyRuns(3));
        assertThat(itself.samples()).isEqualTo(2);
        assertThat(itself.top1Agreement()).isEqualTo(1.0);
        assertThat(itself.sqnrDb()).isEqualTo(Double.POSITIVE_INFINITY);
        assertThat(itself.latencyMsBefore().getAsDouble()).isPositive();
        assertThat(itself.latencyMsAfter().getAsDouble()).isPositive();
        // the simplified export folds BatchNorm (same scores) but returns raw, undecoded boxes: agreement is computed
        // on the first output (scores) only, SQNR and cosine over both outputs, so they show the difference
        OnnxModel simplified = OnnxModel.load(SharedData.model("ultraface/version-RFB-320_simplified.onnx"));
        EvaluationResult other = evaluator.compare(model, simplified, EvaluationRequest.generated(2));
        assertThat(other.top1Agreement()).isGreaterThan(0.99);
        assertThat(other.sqnrDb()).isLessThan(10);
    }

    @Test
    void ultrafaceFindsTheFacesOfTheFirstPhoto() throws Exception {
        OnnxModel model = OnnxModel.load(SharedData.model("ultraface/version-RFB-320.onnx"));
        TensorProto input = TensorProto.parseFrom(Files.readAllBytes(SharedData.model("ultraface/test_data/img1_input_0.pb")));
        TensorProto reference = TensorProto.parseFrom(Files.readAllBytes(
                SharedData.model("ultraface/test_data/version-RFB-320_img1_scores_ort1.30.pb")));
        NdArray photo = NdArray.ofFloats(TestModels.dims(input), TestModels.floats(input));
        try (InferenceSession session = evaluator.open(model)) {
            NdArray scores = session.run(Map.of(session.inputs().get(0).name(), photo)).get("scores");
            assertThat(scores.shape()).containsExactly(1, 4420, 2);
            float[] values = scores.floatData();
            int faces = 0;
            for (int anchor = 0; anchor < 4420; anchor++) {
                if (values[anchor * 2 + 1] > 0.7f) {
                    faces++;
                }
            }
            assertThat(faces).isEqualTo(86);
            assertThat(values).containsExactly(TestModels.floats(reference), within(1e-4f));
        }
        EvaluationResult result = evaluator.compare(model, model, EvaluationRequest.of(Dataset.of(photo), 1));
        assertThat(result.samples()).isEqualTo(1);
        assertThat(result.top1Agreement()).isEqualTo(1.0);
    }

    @Test
    void latencyIsMeasuredForBothModels() {
        OnnxModel model = OnnxModel.load(SharedData.model("mnist8/model.onnx"));
        EvaluationResult result = evaluator.compare(model, model,
                EvaluationRequest.of(SharedData.mnistDigits(10, 1f / 255), 10).withLatencyRuns(9));
        assertThat(result.latencyMsBefore().getAsDouble()).isPositive().isLessThan(1000);
        assertThat(result.latencyMsAfter().getAsDouble()).isPositive().isLessThan(1000);
        assertThat(result.toMap()).containsKeys("latency_ms_before", "latency_ms_after", "accuracy_before");
    }

    @Test
    void everySupportedElementTypeRoundTrips() {
        assertRoundTrip(NdArray.ofFloats(new long[] {2, 3}, new float[] {0f, -1.5f, 3.25f, Float.MAX_VALUE, -0f, 1e-30f}));
        assertRoundTrip(NdArray.ofFloat16(new long[] {2, 2}, new short[] {0x3C00, (short) 0xC000, 0x7BFF, 0x0001}));
        assertRoundTrip(NdArray.ofUint8(new long[] {4}, new byte[] {0, 1, (byte) 200, (byte) 255}));
        assertRoundTrip(NdArray.ofInt8(new long[] {4}, new byte[] {0, -1, -128, 127}));
        assertRoundTrip(NdArray.ofInts(new long[] {1, 3}, new int[] {Integer.MIN_VALUE, 0, Integer.MAX_VALUE}));
        assertRoundTrip(NdArray.ofLongs(new long[] {3}, new long[] {Long.MIN_VALUE, 7, Long.MAX_VALUE}));
    }

    private void assertRoundTrip(NdArray values) {
        OnnxModel model = TestModels.identity(values.dataType(), values.shape());
        try (InferenceSession session = evaluator.open(model)) {
            assertThat(session.inputs().get(0).dataType()).isEqualTo(values.dataType());
            NdArray result = session.run(Map.of("x", values)).get("y");
            assertThat(result.dataType()).isEqualTo(values.dataType());
            assertThat(result.shape()).containsExactly(values.shape());
            assertThat(result.data()).as("values of %s", values).isEqualTo(values.data());
        }
    }

    @Test
    void dynamicDimensionsAreMinusOne() {
        try (InferenceSession session = evaluator.open(TestModels.identity(DataType.FLOAT, -1, 3, -1))) {
            assertThat(session.inputs().get(0).shape()).containsExactly(-1, 3, -1);
            NdArray result = session.run(Map.of("x", NdArray.ofFloats(new long[] {2, 3, 1}, new float[6]))).get("y");
            assertThat(result.shape()).containsExactly(2, 3, 1);
        }
    }

    @Test
    void dataIsConvertedToTheInputsElementType() {
        OnnxModel model = TestModels.identity(DataType.INT64, -1, 2);
        Dataset data = Dataset.of(NdArray.ofFloats(new long[] {2, 2}, new float[] {1.4f, 2.6f, -3.5f, 9f}));
        EvaluationResult result = evaluator.compare(model, model, EvaluationRequest.of(data, 10));
        assertThat(result.samples()).isEqualTo(2);
        assertThat(result.sqnrDb()).isInfinite();
    }

    @Test
    void aModelWithSeveralInputsRunsOnGeneratedInputsButRefusesADataSet() {
        OnnxModel model = TestModels.twoInputs();
        EvaluationResult result = evaluator.compare(model, model, EvaluationRequest.generated(3));
        assertThat(result.samples()).isEqualTo(3);
        assertThat(result.top1Agreement()).isEqualTo(1.0);
        Dataset data = Dataset.of(NdArray.ofFloats(new long[] {2, 4}, new float[8]));
        assertThatThrownBy(() -> evaluator.compare(model, model, EvaluationRequest.of(data, 2)))
                .isInstanceOfSatisfying(CondenseException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.INVALID_DATA))
                .hasMessageContaining("2")
                .hasMessageContaining("[a, b]")
                .hasMessageContaining("generated inputs");
    }

    @Test
    void dataOfTheWrongShapeIsRefusedNamingBothShapes() {
        OnnxModel model = OnnxModel.load(SharedData.model("mnist8/model.onnx"));
        Dataset data = Dataset.of(NdArray.ofFloats(new long[] {3, 10, 10}, new float[300]));
        assertThatThrownBy(() -> evaluator.compare(model, model, EvaluationRequest.of(data, 3)))
                .isInstanceOfSatisfying(CondenseException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.INVALID_DATA))
                .hasMessageContaining("[10, 10]")
                .hasMessageContaining("[1, 1, 28, 28]")
                .hasMessageContaining("Input3");
    }

    @Test
    void runRefusesWrongNamesTypesAndShapes() {
        try (InferenceSession session = evaluator.open(TestModels.identity(DataType.FLOAT, 1, 4))) {
            NdArray good = NdArray.ofFloats(new long[] {1, 4}, new float[4]);
            assertThatThrownBy(() -> session.run(Map.of("nope", good)))
                    .isInstanceOfSatisfying(CondenseException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.INVALID_DATA))
                    .hasMessageContaining("'nope'");
            assertThatThrownBy(() -> session.run(Map.of("x", NdArray.ofInts(new long[] {1, 4}, new int[4]))))
                    .isInstanceOfSatisfying(CondenseException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.INVALID_DATA))
                    .hasMessageContaining("INT32").hasMessageContaining("FLOAT");
            assertThatThrownBy(() -> session.run(Map.of("x", NdArray.ofFloats(new long[] {2, 2}, new float[4]))))
                    .isInstanceOfSatisfying(CondenseException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.INVALID_DATA))
                    .hasMessageContaining("[1, 4]").hasMessageContaining("[2, 2]");
        }
    }

    @Test
    void aModelOnnxRuntimeRefusesIsARuntimeFailureWithItsMessage() {
        assertThatThrownBy(() -> evaluator.open(TestModels.unknownOperator()))
                .isInstanceOfSatisfying(CondenseException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.RUNTIME_FAILURE))
                .hasMessageContaining("ONNX Runtime refused the model")
                .hasMessageContaining("NoSuchOperator");
    }

    @Test
    void garbageBytesAreRefusedBeforeOrByTheRuntime() {
        byte[] garbage = "this is not an ONNX model at all, just text".getBytes(java.nio.charset.StandardCharsets.UTF_8);
        assertThatThrownBy(() -> evaluator.open(OnnxModel.fromBytes(garbage)))
                .isInstanceOfSatisfying(CondenseException.class,
                        e -> assertThat(e.code()).isIn(ErrorCode.INVALID_MODEL, ErrorCode.TRUNCATED_MODEL, ErrorCode.RUNTIME_FAILURE));
    }

    @Test
    void aCandidateWithOtherInputsIsRefused() {
        OnnxModel original = TestModels.identity(DataType.FLOAT, 1, 4);
        OnnxModel other = TestModels.twoInputs();
        assertThatThrownBy(() -> evaluator.compare(original, other, EvaluationRequest.generated(1)))
                .isInstanceOfSatisfying(CondenseException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.INVALID_MODEL))
                .hasMessageContaining("[a, b]").hasMessageContaining("[x]");
    }

    @Test
    void optionsAreChecked() {
        assertThatThrownBy(() -> new OnnxRuntimeEvaluator(-1, 64)).hasMessageContaining("threads");
        assertThatThrownBy(() -> new OnnxRuntimeEvaluator(0, 0)).hasMessageContaining("batchSize");
        OnnxRuntimeEvaluator single = new OnnxRuntimeEvaluator(1, 8);
        OnnxModel model = OnnxModel.load(SharedData.model("pytorch_cnn_mnist.onnx"));
        EvaluationResult result = single.compare(model, model, EvaluationRequest.of(SharedData.mnistDigits(20, 1f), 20));
        assertThat(result.samples()).isEqualTo(20);
        assertThat(result.accuracyBefore().getAsDouble()).isGreaterThan(0.9);
    }

    private static int argmax(float[] values) {
        int best = 0;
        for (int i = 1; i < values.length; i++) {
            if (values[i] > values[best]) {
                best = i;
            }
        }
        return best;
    }

    /** The model with its first float initializer multiplied by {@code factor}. */
    static OnnxModel scaleFirstFloatInitializer(OnnxModel model, float factor) {
        ModelProto.Builder builder = model.proto().toBuilder();
        for (int i = 0; i < builder.getGraph().getInitializerCount(); i++) {
            TensorProto tensor = builder.getGraph().getInitializer(i);
            if (tensor.getDataType() == TensorProto.DataType.FLOAT_VALUE && tensor.getDimsCount() == 4) {
                float[] values = TestModels.floats(tensor);
                ByteBuffer raw = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
                for (float value : values) {
                    raw.putFloat(value * factor);
                }
                TensorProto scaled = tensor.toBuilder().clearFloatData().setRawData(ByteString.copyFrom(raw.array())).build();
                builder.getGraphBuilder().setInitializer(i, scaled);
                return OnnxModel.of(builder.build());
            }
        }
        throw new IllegalArgumentException("no rank-4 float initializer in " + model);
    }

    static Path shared(String relative) {
        return SharedData.model(relative);
    }

    @Test
    void aDeclaredInputTooLargeForTheHeapIsRefusedBeforeAnythingIsAllocated() {
        // 1.6 billion floats: 6.4 GB per generated sample, more than any test JVM's heap holds (an OutOfMemoryError before)
        OnnxModel model = TestModels.identity(DataType.FLOAT, 1, 100_000_000, 16);
        assertThatThrownBy(() -> evaluator.compare(model, model, EvaluationRequest.generated(2)))
                .isInstanceOfSatisfying(CondenseException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.RESOURCE_EXHAUSTED))
                .hasMessageContaining("'x' declares the shape [1, 100000000, 16]")
                .hasMessageContaining("skip_evaluation");
    }

    @Test
    void aDeclaredInputOverTwoBillionValuesIsRefusedWhateverTheHeap() {
        // 160 billion values: Math.toIntExact overflowed (an ArithmeticException, INTERNAL_ERROR) before
        OnnxModel model = TestModels.identity(DataType.FLOAT, 100_000, 100_000, 16);
        assertThatThrownBy(() -> Comparison.checkGeneratedInputsFit(
                java.util.List.of(new ValueSpec("x", DataType.FLOAT, new long[] {100_000, 100_000, 16})), Long.MAX_VALUE))
                .isInstanceOfSatisfying(CondenseException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.RESOURCE_EXHAUSTED))
                .hasMessageContaining("[100000, 100000, 16] (160000000000 values)")
                .hasMessageContaining("more than one array can hold");
        assertThatThrownBy(() -> evaluator.compare(model, model, EvaluationRequest.generated(2)))
                .isInstanceOfSatisfying(CondenseException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.RESOURCE_EXHAUSTED));
        Comparison.checkGeneratedInputsFit(java.util.List.of(
                new ValueSpec("x", DataType.FLOAT, new long[] {-1, 1, 28, 28})), 64L * 1024 * 1024);
    }

    @Test
    void inputsThatFitAnEighthOfTheHeapAreAccepted() {
        // 1 MiB of floats twice (Java and ONNX Runtime) = 2 MiB: fits 16 MiB / 8, not 8 MiB / 8
        java.util.List<ValueSpec> inputs = java.util.List.of(new ValueSpec("x", DataType.FLOAT, new long[] {1, 256, 1024}));
        Comparison.checkGeneratedInputsFit(inputs, 16L * 1024 * 1024);
        assertThatThrownBy(() -> Comparison.checkGeneratedInputsFit(inputs, 8L * 1024 * 1024))
                .hasMessageContaining("need 2 MiB for one generated sample")
                .hasMessageContaining("(1 MiB, an eighth of its 8 MiB heap)");
    }
}
