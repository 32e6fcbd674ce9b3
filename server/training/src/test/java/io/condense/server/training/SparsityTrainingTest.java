package io.condense.server.training;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import io.condense.sdk.data.Dataset;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.training.LearningRateSchedule;
import io.condense.sdk.training.MaskUpdates;
import io.condense.sdk.training.Optimizer;
import io.condense.sdk.training.Regularizer;
import io.condense.sdk.training.Trainer;
import io.condense.sdk.training.TrainingRequest;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * The request's sparsity hooks in the trainer: a regulariser's (sub)gradient is added to exactly its initializers'
 * gradients (one full-batch plain SGD step at rate 1, with and without the penalty, differ by the penalty's gradient), and
 * mask updates zero the masked weights before the batch and hold them at zero through momentum until the next update.
 */
class SparsityTrainingTest {
    private static final Trainer TRAINER = new PyTorchTrainer();

    private static OnnxModel model() {
        GraphBuilder b = new GraphBuilder(13, 11);
        b.input("x", 0, 4);
        String y = b.node("Gemm", new String[] {"x", b.uniform("w", 1, 3, 4), b.uniform("b", 1, 3)}, "transB", 1L);
        y = b.node("Tanh", y);
        b.nodeWithOutput("Gemm", new String[] {y, b.uniform("w2", 1, 3, 3)}, "logits");
        return b.output("logits", 0, 3).build();
    }

    private static float[] step(OnnxModel model, Dataset data, String name, Regularizer... regularizers) {
        TrainingRequest.Builder request = TrainingRequest.builder(model, data).batchSize(data.size()).epochs(1)
                .optimizer(Optimizer.sgd(0, 0)).schedule(LearningRateSchedule.constant(1));
        for (Regularizer regularizer : regularizers) {
            request.regularizer(regularizer);
        }
        return TRAINER.train(request.build()).model().tensor(name).toFloatArray();
    }

    @Test
    void l1AddsStrengthTimesTheSignOfEveryWeightToItsGradient() {
        OnnxModel model = model();
        Dataset data = GradientTest.randomData(new Random(3), 8, new long[] {4}, 3);
        float[] before = model.tensor("w").toFloatArray();
        float[] plain = step(model, data, "w");
        float[] penalised = step(model, data, "w", new Regularizer.L1(0.05, Set.of("w")));
        for (int i = 0; i < before.length; i++) {
            assertThat(plain[i] - penalised[i]).as("w[%d]", i).isCloseTo((float) (0.05 * Math.signum(before[i])), within(1e-5f));
        }
        assertThat(step(model, data, "w2", new Regularizer.L1(0.05, Set.of("w")))).as("w2 has no penalty")
                .containsExactly(step(model, data, "w2"));
    }

    @Test
    void groupLassoAddsStrengthTimesEachOutputChannelOverItsNorm() {
        OnnxModel model = model();
        Dataset data = GradientTest.randomData(new Random(4), 8, new long[] {4}, 3);
        float[] before = model.tensor("w").toFloatArray(); // [3 outputs, 4 inputs] (transB)
        float[] plain = step(model, data, "w");
        float[] penalised = step(model, data, "w", new Regularizer.GroupLasso(0.1, Map.of("w", 0)));
        for (int row = 0; row < 3; row++) {
            double norm = 0;
            for (int k = 0; k < 4; k++) {
                norm += before[row * 4 + k] * before[row * 4 + k];
            }
            norm = Math.sqrt(norm);
            for (int k = 0; k < 4; k++) {
                int i = row * 4 + k;
                assertThat(plain[i] - penalised[i]).as("w[%d,%d]", row, k).isCloseTo((float) (0.1 * before[i] / norm), within(1e-5f));
            }
        }
    }

    @Test
    void maskUpdatesZeroTheMaskedWeightsAndHoldThemThroughMomentum() {
        OnnxModel model = model();
        Dataset data = GradientTest.randomData(new Random(5), 32, new long[] {4}, 3);
        List<Integer> calls = new ArrayList<>();
        MaskUpdates masks = new MaskUpdates() {
            @Override
            public Set<String> initializers() {
                return Set.of("w");
            }

            @Override
            public boolean due(int epoch, int batch, int batches) {
                return epoch * batches + batch == 2; // once, before the third batch: momentum has built up by then
            }

            @Override
            public Map<String, float[]> masks(Map<String, float[]> weights, int epoch, int batch, int batches) {
                calls.add(weights.get("w").length);
                float[] mask = new float[12];
                for (int i = 0; i < 12; i += 2) {
                    mask[i] = 1;
                }
                return Map.of("w", mask);
            }
        };
        float[] trained = TRAINER.train(TrainingRequest.builder(model, data).batchSize(4).epochs(2)
                .optimizer(Optimizer.sgd(0.9, 0.01)).schedule(LearningRateSchedule.constant(0.1)).maskUpdates(masks).build())
                .model().tensor("w").toFloatArray();
        assertThat(calls).containsExactly(12);
        float[] before = model.tensor("w").toFloatArray();
        for (int i = 0; i < 12; i++) {
            if (i % 2 == 1) {
                assertThat(trained[i]).as("masked w[%d]", i).isZero();
            } else {
                assertThat(trained[i]).as("kept w[%d] trained", i).isNotEqualTo(before[i]);
            }
        }
    }

    @Test
    void hooksOnInitializersThatAreNotTrainedAreRefused() {
        OnnxModel model = model();
        Dataset data = GradientTest.randomData(new Random(6), 4, new long[] {4}, 3);
        assertThatThrownBy(() -> TRAINER.train(TrainingRequest.builder(model, data).trainable(Set.of("w2"))
                .regularizer(new Regularizer.L1(0.1, Set.of("w"))).build()))
                .isInstanceOfSatisfying(CondenseException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.INVALID_PARAMETER))
                .hasMessageContaining("w, which is not trained");
    }
}
