package io.condense.server.training;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import io.condense.sdk.data.Dataset;
import io.condense.sdk.data.NdArray;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.testkit.SharedData;
import io.condense.sdk.training.LearningRateSchedule;
import io.condense.sdk.training.Loss;
import io.condense.sdk.training.Optimizer;
import io.condense.sdk.training.Trainer;
import io.condense.sdk.training.TrainingRequest;
import io.condense.sdk.training.TrainingResult;
import java.util.Arrays;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The distillation loss: its value against a hand computation, alpha 0 as plain cross-entropy, knowledge transferred without labels. */
class DistillationTest {
    private static final Trainer TRAINER = new PyTorchTrainer();
    private static final float SCALE = 1f / 255;
    private static Dataset train;
    private static Dataset test;
    private static OnnxModel teacher;
    private static double teacherAccuracy;

    /** A LeNet-300-100 teacher trained on 2,000 real digits, measured on 1,000 others. */
    @BeforeAll
    static void trainTeacher() {
        Dataset digits = SharedData.mnistDigits(3000, 1f);
        train = slice(digits, 0, 2000);
        test = slice(digits, 2000, 3000);
        teacher = TRAINER.train(TrainingRequest.builder(GraphBuilder.leNet300100(7), train).inputScale(SCALE).epochs(4).batchSize(32)
                .schedule(new LearningRateSchedule.Cosine(0.05, 0.001)).seed(3).build()).model();
        teacherAccuracy = TRAINER.accuracy(teacher, test, SCALE, 500);
        assertThat(teacherAccuracy).isGreaterThan(0.85);
    }

    /** One batch holding every sample and a negligible rate: the first epoch's loss is the loss at the initial weights. */
    @Test
    void lossIsAlphaTimesTSquaredKlPlusTheRestCrossEntropy() {
        Dataset few = slice(train, 0, 200);
        OnnxModel student = GraphBuilder.leNet300100(11);
        double temperature = 3;
        double alpha = 0.7;
        TrainingResult result = TRAINER.train(TrainingRequest.builder(student, few).inputScale(SCALE).batchSize(200)
                .loss(Loss.distillation(teacher, temperature, alpha)).optimizer(Optimizer.sgd(0, 0))
                .schedule(LearningRateSchedule.constant(1e-8)).build());

        float[] t = logits(teacher, few);
        float[] s = logits(student, few);
        long[] labels = few.labels().orElseThrow().toLongArray();
        int classes = 10;
        double kl = 0;
        double crossEntropy = 0;
        for (int i = 0; i < labels.length; i++) {
            double[] p = logSoftmax(t, i * classes, classes, temperature);
            double[] q = logSoftmax(s, i * classes, classes, temperature);
            for (int c = 0; c < classes; c++) {
                kl += Math.exp(p[c]) * (p[c] - q[c]);
            }
            crossEntropy -= logSoftmax(s, i * classes, classes, 1)[(int) labels[i]];
        }
        kl /= labels.length;
        crossEntropy /= labels.length;
        double expected = alpha * temperature * temperature * kl + (1 - alpha) * crossEntropy;
        assertThat(kl).isGreaterThan(0.01);
        assertThat(result.lastEpoch().loss()).isCloseTo(expected, within(1e-4 * expected));
    }

    @Test
    void alphaZeroIsPlainCrossEntropy() {
        Dataset few = slice(train, 0, 300);
        TrainingRequest.Builder plain = TrainingRequest.builder(GraphBuilder.leNet300100(13), few).inputScale(SCALE).epochs(2)
                .batchSize(50).seed(5);
        TrainingRequest.Builder distilled = TrainingRequest.builder(GraphBuilder.leNet300100(13), few).inputScale(SCALE).epochs(2)
                .batchSize(50).seed(5).loss(Loss.distillation(teacher, 4, 0));
        TrainingResult a = TRAINER.train(plain.build());
        TrainingResult b = TRAINER.train(distilled.build());
        assertThat(b.lastEpoch().loss()).isCloseTo(a.lastEpoch().loss(), within(1e-5));
        assertThat(b.model().initializer("fc1.weight").orElseThrow()).isEqualTo(a.model().initializer("fc1.weight").orElseThrow());
    }

    /**
     * Every training label is 0, so cross-entropy alone teaches nothing but "0"; with alpha 1 the student never sees
     * those labels and learns the digits from the teacher's soft outputs alone.
     */
    @Test
    void studentLearnsFromTheTeacherAloneWhenTheLabelsAreUseless() {
        Dataset useless = Dataset.of(train.inputs(), NdArray.ofLongs(new long[] {train.size()}, new long[train.size()]));
        TrainingRequest.Builder request = TrainingRequest.builder(GraphBuilder.leNet300100(17), useless).inputScale(SCALE).epochs(4)
                .batchSize(32).schedule(new LearningRateSchedule.Cosine(0.05, 0.001)).seed(9);
        double distilled = TRAINER.accuracy(TRAINER.train(request.loss(Loss.distillation(teacher, 4, 1)).build()).model(), test,
                SCALE, 500);
        double labelsOnly = TRAINER.accuracy(TRAINER.train(request.loss(Loss.crossEntropy()).build()).model(), test, SCALE, 500);
        assertThat(labelsOnly).isLessThan(0.2);
        assertThat(distilled).isGreaterThan(teacherAccuracy - 0.08);
    }

    @Test
    void aTeacherOverOtherClassesOrOperatorsIsRefusedBeforeTraining() {
        Dataset few = slice(train, 0, 64);
        OnnxModel student = GraphBuilder.leNet300100(19);
        // mnist8 has a fixed batch of 1: its logits are computed ahead one sample at a time, so it teaches batches of 32
        OnnxModel mnist8 = OnnxModel.load(SharedData.model("mnist8/model.onnx"));
        TrainingResult fromMnist8 = TRAINER.train(TrainingRequest.builder(student, few).inputScale(SCALE).batchSize(32)
                .loss(Loss.distillation(mnist8, 2, 0.5)).build());
        assertThat(fromMnist8.history()).hasSize(1);

        GraphBuilder five = new GraphBuilder(13, 1);
        five.input("image", 0, 1, 28, 28);
        String flat = five.node("Flatten", "image", "axis", 1L);
        five.nodeWithOutput("Identity", new String[] {five.dense(flat, 784, 5, "fc")}, "logits");
        OnnxModel fiveClasses = five.output("logits", 0, 5).build();
        assertThatThrownBy(() -> TRAINER.train(TrainingRequest.builder(student, few).inputScale(SCALE)
                .loss(Loss.distillation(fiveClasses, 2, 0.5)).build()))
                .isInstanceOfSatisfying(CondenseException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.INVALID_PARAMETER))
                .hasMessageContaining("5 values per sample but the trained model's has 10");

        GraphBuilder erf = new GraphBuilder(13, 1);
        erf.input("image", 0, 1, 28, 28);
        String x = erf.node("Flatten", erf.node("Erf", "image"), "axis", 1L);
        erf.nodeWithOutput("Identity", new String[] {erf.dense(x, 784, 10, "fc")}, "logits");
        OnnxModel withErf = erf.output("logits", 0, 10).build();
        assertThatThrownBy(() -> TRAINER.train(TrainingRequest.builder(student, few).inputScale(SCALE)
                .loss(Loss.distillation(withErf, 2, 0.5)).build()))
                .isInstanceOfSatisfying(CondenseException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.UNSUPPORTED_MODEL))
                .hasMessageStartingWith("the teacher model: ");
        assertThatThrownBy(() -> TRAINER.train(TrainingRequest.builder(GraphBuilder.leNet300100(19), few).inputScale(SCALE)
                .loss(new Loss.Distillation(teacher, 2, 0.5, java.util.Optional.of("nope"))).build()))
                .isInstanceOfSatisfying(CondenseException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.INVALID_PARAMETER))
                .hasMessageContaining("nope");
        assertThatThrownBy(() -> Loss.distillation(teacher, 0, 0.5)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("temperature");
        assertThatThrownBy(() -> Loss.distillation(teacher, 4, 1.5)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("alpha");
    }

    private static float[] logits(OnnxModel model, Dataset data) {
        float[] pixels = data.inputs().toFloatArray();
        float[] scaled = new float[pixels.length];
        for (int i = 0; i < pixels.length; i++) {
            scaled[i] = pixels[i] * SCALE;
        }
        String input = model.inputs().get(0).getName();
        Map<String, NdArray> outputs = TRAINER.run(model, Map.of(input, NdArray.ofFloats(new long[] {data.size(), 784}, scaled)));
        return outputs.values().iterator().next().toFloatArray();
    }

    private static double[] logSoftmax(float[] logits, int offset, int classes, double temperature) {
        double max = Double.NEGATIVE_INFINITY;
        for (int c = 0; c < classes; c++) {
            max = Math.max(max, logits[offset + c] / temperature);
        }
        double sum = 0;
        for (int c = 0; c < classes; c++) {
            sum += Math.exp(logits[offset + c] / temperature - max);
        }
        double[] result = new double[classes];
        for (int c = 0; c < classes; c++) {
            result[c] = logits[offset + c] / temperature - max - Math.log(sum);
        }
        return result;
    }

    private static Dataset slice(Dataset data, int from, int to) {
        long[] shape = data.inputs().shape().clone();
        int sample = Math.toIntExact(data.inputs().size() / shape[0]);
        shape[0] = to - from;
        float[] values = Arrays.copyOfRange(data.inputs().toFloatArray(), from * sample, to * sample);
        long[] labels = Arrays.copyOfRange(data.labels().orElseThrow().toLongArray(), from, to);
        return Dataset.of(NdArray.ofFloats(shape, values), NdArray.ofLongs(new long[] {to - from}, labels));
    }
}
