package io.condense.server.training;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import io.condense.sdk.data.Dataset;
import io.condense.sdk.data.NdArray;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.eval.EvaluationRequest;
import io.condense.sdk.eval.Evaluator;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.tensor.DataType;
import io.condense.sdk.tensor.Tensor;
import io.condense.sdk.testkit.SharedData;
import io.condense.sdk.training.EpochSummary;
import io.condense.sdk.training.LearningRateSchedule;
import io.condense.sdk.training.Optimizer;
import io.condense.sdk.training.Trainer;
import io.condense.sdk.training.TrainingListener;
import io.condense.sdk.training.TrainingProgress;
import io.condense.sdk.training.TrainingRequest;
import io.condense.sdk.training.TrainingResult;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.ServiceLoader;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class TrainingTest {
    private static final Trainer TRAINER = new PyTorchTrainer();

    @Test
    void lossFallsOnASmallBatch() {
        Dataset digits = SharedData.mnistDigits(64, 1f / 255);
        TrainingResult result = TRAINER.train(TrainingRequest.builder(GraphBuilder.leNet300100(3), digits).epochs(10).batchSize(16)
                .optimizer(Optimizer.sgd(0.9, 0)).schedule(LearningRateSchedule.constant(0.05)).build());
        List<EpochSummary> history = result.history();
        assertThat(history).hasSize(10);
        assertThat(result.lastEpoch().loss()).isLessThan(history.get(0).loss() * 0.5);
        assertThat(result.trainedInitializers()).containsExactly("fc1.bias", "fc1.weight", "fc2.bias", "fc2.weight", "fc3.bias",
                "fc3.weight");
    }

    /**
     * A server trains each job on a worker thread of its own: PyTorch starts every thread with autograd on, and until the
     * engine turned it off per call, every training on a thread other than the one that loaded the engine failed at its
     * first weight update ("a leaf Variable that requires grad is being used in an in-place operation").
     */
    @Test
    void trainsOnEveryThreadNotOnlyTheFirst() throws Exception {
        Dataset digits = SharedData.mnistDigits(64, 1f / 255);
        TrainingRequest request = TrainingRequest.builder(GraphBuilder.leNet5(1), digits).epochs(1).batchSize(16).build();
        TrainingResult here = TRAINER.train(request);
        for (int thread = 0; thread < 2; thread++) {
            var result = new java.util.concurrent.atomic.AtomicReference<Object>();
            Thread other = new Thread(() -> {
                try {
                    result.set(TRAINER.train(request));
                } catch (RuntimeException e) {
                    result.set(e);
                }
            }, "another-worker-" + thread);
            other.start();
            other.join();
            assertThat(result.get()).as("training on a new thread").isInstanceOf(TrainingResult.class);
            assertThat(((TrainingResult) result.get()).lastEpoch().loss()).isEqualTo(here.lastEpoch().loss());
        }
    }

    /** A slice of Fashion-MNIST: LeNet-300-100 goes well above chance (10%) in two short epochs. */
    @Test
    void leNetLearnsFashionMnist() {
        var directory = Fixtures.requireFashion();
        Dataset train = Fixtures.fashion(directory, "train").head(4000);
        Dataset test = Fixtures.fashion(directory, "t10k").head(1000);
        OnnxModel model = GraphBuilder.leNet300100(5);
        double before = TRAINER.accuracy(model, test, 1f / 255, 250);
        List<TrainingProgress> batches = new ArrayList<>();
        TrainingResult result = TRAINER.train(TrainingRequest.builder(model, train).validationData(test).inputScale(1f / 255)
                .epochs(2).batchSize(64).optimizer(Optimizer.sgd(0.9, 1e-4))
                .schedule(new LearningRateSchedule.Cosine(0.05, 0.005)).seed(11).listener(batches::add).build());
        double after = result.lastEpoch().validationAccuracy().orElseThrow();
        assertThat(before).isLessThan(0.3);
        assertThat(after).isGreaterThan(0.75);
        assertThat(batches).hasSize(2 * 63);
        assertThat(batches.get(batches.size() - 1).accuracy()).isGreaterThan(0.7);
        // the cosine schedule falls batch by batch towards its final rate
        assertThat(batches.get(0).learningRate()).isEqualTo(0.05);
        assertThat(batches.get(batches.size() - 1).learningRate()).isLessThan(0.006).isGreaterThanOrEqualTo(0.005);
        // the written model is ordinary ONNX: ONNX Runtime measures the same accuracy on it
        Evaluator runtime = ServiceLoader.load(Evaluator.class).findFirst().orElseThrow();
        Dataset scaledTest = scaled(test, 1f / 255);
        var measured = runtime.compare(model, result.model(), EvaluationRequest.of(scaledTest, 1000));
        assertThat(measured.accuracyAfter().orElseThrow()).isCloseTo(after, org.assertj.core.data.Offset.offset(0.002));
        assertThat(measured.accuracyBefore().orElseThrow()).isCloseTo(before, org.assertj.core.data.Offset.offset(0.002));
    }

    @Test
    void sameSeedRepeatsExactlyAndAnotherSeedDiffers() {
        OnnxModel model = OperatorZoo.model(13);
        Dataset digits = SharedData.mnistDigits(96, 1f / 255);
        TrainingResult first = TRAINER.train(request(model, digits, 21));
        TrainingResult second = TRAINER.train(request(model, digits, 21));
        TrainingResult other = TRAINER.train(request(model, digits, 22));
        for (String name : first.trainedInitializers()) {
            assertThat(second.model().tensor(name).toFloatArray()).as(name).containsExactly(first.model().tensor(name).toFloatArray());
        }
        assertThat(second.history()).extracting(EpochSummary::loss).containsExactlyElementsOf(
                first.history().stream().map(EpochSummary::loss).toList());
        assertThat(other.model().tensor("fc.b").toFloatArray()).isNotEqualTo(first.model().tensor("fc.b").toFloatArray());
    }

    private static TrainingRequest request(OnnxModel model, Dataset data, long seed) {
        return TrainingRequest.builder(model, data).epochs(2).batchSize(16).seed(seed).optimizer(Optimizer.sgd(0.9, 0))
                .schedule(new LearningRateSchedule.Step(0.02, 1, 0.5)).build();
    }

    /**
     * The operator zoo trains through batch normalization, dropout, fake quantization (straight-through), pooling and
     * every other operator; scales, zero points, int8 levels and shapes are left alone, running statistics move
     * unless frozen.
     */
    @Test
    void trainsThroughEveryOperatorAndKeepsStructureAlone() {
        OnnxModel model = OperatorZoo.model(13);
        Dataset digits = SharedData.mnistDigits(64, 1f / 255);
        TrainingResult result = TRAINER.train(TrainingRequest.builder(model, digits).epochs(1).batchSize(16).build());
        assertThat(result.trainedInitializers()).contains("c1.w", "bn.scale", "bn.bias", "c2.w", "dw.w", "fc.b", "mm.w", "g2.c")
                .doesNotContain("bn.mean", "bn.var", "fc.scales", "fc.levels", "act.scale", "act.zero", "shape", "ratio", "clip.min");
        for (String name : List.of("c1.w", "c2.w", "dw.w", "fc.b", "bn.scale", "bn.mean", "bn.var")) {
            assertThat(result.model().tensor(name).toFloatArray()).as(name).isNotEqualTo(model.tensor(name).toFloatArray());
        }
        for (String name : List.of("fc.scales", "act.scale", "shape")) {
            assertThat(result.model().initializer(name)).as(name).isEqualTo(model.initializer(name));
        }
        assertThat(result.model().initializer("fc.levels")).isEqualTo(model.initializer("fc.levels"));
        for (TensorProto initializer : result.model().graph().getInitializerList()) {
            TensorProto original = model.initializer(initializer.getName()).orElseThrow();
            assertThat(initializer.getDataType()).as(initializer.getName()).isEqualTo(original.getDataType());
            assertThat(initializer.getDimsList()).as(initializer.getName()).isEqualTo(original.getDimsList());
        }
        assertThat(result.model().graph().getNodeList()).isEqualTo(model.graph().getNodeList());

        TrainingResult frozen = TRAINER.train(TrainingRequest.builder(model, digits).epochs(1).batchSize(16)
                .frozenBatchNormStatistics(true).build());
        assertThat(frozen.model().initializer("bn.mean")).isEqualTo(model.initializer("bn.mean"));
        assertThat(frozen.model().initializer("bn.var")).isEqualTo(model.initializer("bn.var"));
    }

    /** ONNX's momentum weighs the old running value: running = 0.9 * running + 0.1 * batch (unbiased variance). */
    @Test
    void batchNormalizationUpdatesRunningStatisticsWithTheNodesMomentum() {
        GraphBuilder b = new GraphBuilder(13, 1);
        b.input("x", 0, 2, 1, 1);
        b.floats("mean", new long[] {2}, new float[] {1f, -1f});
        b.floats("var", new long[] {2}, new float[] {2f, 4f});
        String y = b.node("BatchNormalization", new String[] {"x", b.floats("scale", new long[] {2}, new float[] {1f, 1f}),
                b.floats("shift", new long[] {2}, new float[] {0f, 0f}), "mean", "var"}, "momentum", 0.9f);
        b.nodeWithOutput("Flatten", new String[] {y}, "logits");
        OnnxModel model = b.output("logits", 0, 2).build();
        float[] x = {1, 10, 3, 20, 5, 30, 7, 40};
        Dataset data = Dataset.of(NdArray.ofFloats(new long[] {4, 2, 1, 1}, x), NdArray.ofLongs(new long[] {4}, new long[] {0, 1, 0, 1}));
        TrainingResult result = TRAINER.train(TrainingRequest.builder(model, data).batchSize(4).build());
        // channel 0: mean 4, unbiased variance 20/3; channel 1: mean 25, unbiased variance 500/3
        assertThat(result.model().tensor("mean").toFloatArray()).containsExactly(new float[] {0.9f * 1 + 0.1f * 4, 0.9f * -1 + 0.1f * 25},
                org.assertj.core.data.Offset.offset(1e-5f));
        assertThat(result.model().tensor("var").toFloatArray()).containsExactly(new float[] {0.9f * 2 + 0.1f * 20 / 3f,
                0.9f * 4 + 0.1f * 500 / 3f}, org.assertj.core.data.Offset.offset(1e-4f));
    }

    @Test
    void maskedAndZeroElementsNeverChange() {
        OnnxModel dense = GraphBuilder.leNet300100(9);
        float[] fc2 = dense.tensor("fc2.weight").toFloatArray();
        for (int i = 0; i < fc2.length; i += 2) {
            fc2[i] = 0;
        }
        OnnxModel pruned = dense.edit().putInitializer(Tensor.fromFloats("fc2.weight", DataType.FLOAT,
                dense.tensor("fc2.weight").shape(), fc2).toProto()).build();
        float[] mask = new float[300 * 784];
        for (int i = 0; i < mask.length; i++) {
            mask[i] = i % 3 == 0 ? 0 : 1;
        }
        Dataset digits = SharedData.mnistDigits(128, 1f / 255);
        TrainingResult result = TRAINER.train(TrainingRequest.builder(pruned, digits).epochs(1).batchSize(32)
                .optimizer(new Optimizer.Adam(0.9, 0.999, 1e-8, 1e-3)).schedule(LearningRateSchedule.constant(1e-2))
                .freezeZeros(true).gradientMask("fc1.weight", NdArray.ofFloats(new long[] {300, 784}, mask)).build());
        float[] trainedFc2 = result.model().tensor("fc2.weight").toFloatArray();
        float[] originalFc1 = pruned.tensor("fc1.weight").toFloatArray();
        float[] trainedFc1 = result.model().tensor("fc1.weight").toFloatArray();
        int changed = 0;
        for (int i = 0; i < trainedFc2.length; i++) {
            if (i % 2 == 0) {
                assertThat(trainedFc2[i]).isZero();
            } else if (trainedFc2[i] != fc2[i]) {
                changed++;
            }
        }
        assertThat(changed).isGreaterThan(trainedFc2.length / 4);
        int changedFc1 = 0;
        for (int i = 0; i < mask.length; i++) {
            if (mask[i] == 0) {
                assertThat(trainedFc1[i]).isEqualTo(originalFc1[i]);
            } else if (trainedFc1[i] != originalFc1[i]) {
                changedFc1++;
            }
        }
        assertThat(changedFc1).isGreaterThan(mask.length / 3);
    }

    @Test
    void cancellationStopsBetweenBatches() {
        Dataset digits = SharedData.mnistDigits(256, 1f / 255);
        AtomicInteger batches = new AtomicInteger();
        assertThatThrownBy(() -> TRAINER.train(TrainingRequest.builder(GraphBuilder.leNet5(1), digits).batchSize(32).epochs(3)
                .listener(progress -> batches.incrementAndGet()).cancelled(() -> batches.get() >= 3).build()))
                .isInstanceOfSatisfying(CondenseException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.CANCELLED))
                .hasMessageContaining("epoch 1 of 3").hasMessageContaining("batch 4 of 8");
        assertThat(batches).hasValue(3);
    }

    /** As a technique uses it: progress (epoch, batch, loss, accuracy) and cancellation through the step context. */
    @Test
    void reportsProgressAndStopsThroughTheStepContext() {
        try (io.condense.sdk.testkit.TestStepContext context = io.condense.sdk.testkit.TestStepContext.builder()
                .techniqueId("finetune").cancelAfterProgressEvents(5).build()) {
            assertThat(context.trainer()).as("a context offers no trainer unless the host gives one").isEmpty();
            Dataset digits = SharedData.mnistDigits(256, 1f / 255);
            assertThatThrownBy(() -> TRAINER.train(TrainingRequest.builder(GraphBuilder.leNet300100(1), digits).batchSize(32)
                    .epochs(2).listener(TrainingListener.reportingTo(context)).cancelled(context::isCancelled).build()))
                    .isInstanceOfSatisfying(CondenseException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.CANCELLED));
            assertThat(context.progressEvents()).hasSize(5);
            var first = context.progressEvents().get(0);
            assertThat(first.fraction()).isEqualTo(1.0 / 16);
            assertThat(first.message()).startsWith("epoch 1/2 batch 1/8 loss ").contains(" accuracy ");
            assertThat(context.progressEvents().get(4).fraction()).isEqualTo(5.0 / 16);
        }
    }

    @Test
    void unsupportedOperatorsAreNamedTogetherBeforeTraining() {
        GraphBuilder b = new GraphBuilder(13, 1);
        b.input("image", 0, 1, 28, 28);
        String x = b.node("Erf", "image");
        x = b.node("Flatten", b.node("Erf", x));
        b.rawNode(NodeProto.newBuilder().setOpType("FusedGemm").setDomain("com.microsoft").addInput(x).addOutput("fused").build());
        b.nodeWithOutput("Gemm", new String[] {"fused", b.weight("w", 784, 10, 784)}, "logits", "transB", 1L);
        OnnxModel model = b.output("logits", 0, 10).build();
        assertThat(TRAINER.unsupportedOperators(model)).containsExactly("Erf (2 nodes)", "com.microsoft:FusedGemm (1 node)");
        // read outside the assertion, so that a missing shared folder skips the test instead of failing it
        Dataset digits = SharedData.mnistDigits(8, 1f);
        AtomicInteger calls = new AtomicInteger();
        assertThatThrownBy(() -> TRAINER.train(TrainingRequest.builder(model, digits)
                .listener(progress -> calls.incrementAndGet()).cancelled(() -> calls.incrementAndGet() < 0).build()))
                .isInstanceOfSatisfying(CondenseException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.UNSUPPORTED_MODEL))
                .hasMessageContaining("Erf (2 nodes), com.microsoft:FusedGemm (1 node)").hasMessageContaining("nothing was trained");
        assertThat(calls).hasValue(0);
    }

    @Test
    void badRequestsAreClearErrors() {
        OnnxModel model = GraphBuilder.leNet5(1);
        // read outside the assertions, so that a missing shared folder skips the test instead of failing it
        Dataset digits = SharedData.mnistDigits(8, 1f);
        Dataset wrongShape = Dataset.of(NdArray.ofFloats(new long[] {2, 30}, new float[60]), NdArray.ofLongs(new long[] {2}, new long[2]));
        assertThatThrownBy(() -> TRAINER.train(TrainingRequest.builder(model, wrongShape).build()))
                .isInstanceOfSatisfying(CondenseException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.INVALID_DATA))
                .hasMessageContaining("[30]").hasMessageContaining("image");
        Dataset badLabels = Dataset.of(NdArray.ofFloats(new long[] {2, 28, 28}, new float[2 * 784]),
                NdArray.ofLongs(new long[] {2}, new long[] {3, 10}));
        assertThatThrownBy(() -> TRAINER.train(TrainingRequest.builder(model, badLabels).build()))
                .isInstanceOfSatisfying(CondenseException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.INVALID_DATA))
                .hasMessageContaining("10 classes");
        assertThatThrownBy(() -> TRAINER.train(TrainingRequest.builder(model, digits.head(4))
                .trainable(java.util.Set.of("conv1.weight", "nope")).build()))
                .isInstanceOfSatisfying(CondenseException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.INVALID_PARAMETER))
                .hasMessageContaining("nope is not an initializer");
        assertThatThrownBy(() -> TRAINER.train(TrainingRequest.builder(model, digits).schedule(
                LearningRateSchedule.constant(1e6)).batchSize(8).epochs(3).build()))
                .isInstanceOfSatisfying(CondenseException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.INVALID_PARAMETER))
                .hasMessageContaining("diverged");
    }

    /** mnist8 declares a batch of 1 and reshapes with a constant [1, 256]: it trains at batch 1, through its weight Reshape. */
    @Test
    void fixedBatchModelsTrainAtTheirBatch() {
        OnnxModel model = OnnxModel.load(SharedData.model("mnist8/model.onnx"));
        Dataset digits = SharedData.mnistDigits(48, 1f / 255);
        assertThatThrownBy(() -> TRAINER.train(TrainingRequest.builder(model, digits).batchSize(16).build()))
                .isInstanceOfSatisfying(CondenseException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.INVALID_PARAMETER))
                .hasMessageContaining("fixed batch of 1");
        TrainingResult result = TRAINER.train(TrainingRequest.builder(model, digits).batchSize(1)
                .schedule(LearningRateSchedule.constant(1e-3)).build());
        assertThat(result.trainedInitializers()).hasSize(model.graph().getInitializerCount() - 2);
        assertThat(result.lastEpoch().accuracy()).isGreaterThan(0.8);
        assertThat(TRAINER.accuracy(result.model(), digits, 1f, 64)).isGreaterThan(0.8);
    }

    @Test
    void onlyTheNamedInitializersTrain() {
        OnnxModel model = GraphBuilder.leNet5(2);
        TrainingResult result = TRAINER.train(TrainingRequest.builder(model, SharedData.mnistDigits(64, 1f / 255))
                .trainable(java.util.Set.of("fc3.weight")).batchSize(32).build());
        assertThat(result.trainedInitializers()).containsExactly("fc3.weight");
        assertThat(result.model().tensor("fc3.weight").toFloatArray()).isNotEqualTo(model.tensor("fc3.weight").toFloatArray());
        assertThat(result.model().initializer("conv1.weight")).isEqualTo(model.initializer("conv1.weight"));
        assertThat(result.model().initializer("fc3.bias")).isEqualTo(model.initializer("fc3.bias"));
    }

    static Dataset scaled(Dataset data, float scale) {
        float[] values = data.inputs().toFloatArray();
        float[] out = new float[values.length];
        for (int i = 0; i < values.length; i++) {
            out[i] = values[i] * scale;
        }
        long[] shape = data.inputs().shape();
        return Dataset.of(NdArray.ofFloats(new long[] {shape[0], 1, 28, 28}, out), data.labels().orElseThrow());
    }
}
