package io.condense.server.training;

import static org.assertj.core.api.Assertions.assertThat;

import io.condense.sdk.data.Dataset;
import io.condense.sdk.data.NdArray;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.tensor.DataType;
import io.condense.sdk.tensor.Tensor;
import io.condense.sdk.training.LearningRateSchedule;
import io.condense.sdk.training.Optimizer;
import io.condense.sdk.training.Trainer;
import io.condense.sdk.training.TrainingRequest;
import io.condense.sdk.training.TrainingResult;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Gradients through the interpreter against central finite differences of the loss computed from forward passes:
 * one full-batch SGD step with rate 1 and no momentum moves each weight by exactly minus its gradient.
 */
class GradientTest {
    private static final Trainer TRAINER = new PyTorchTrainer();

    @Test
    void gemmGradientMatchesFiniteDifferences() {
        GraphBuilder b = new GraphBuilder(13, 7);
        b.input("x", 0, 4);
        String y = b.node("Gemm", new String[] {"x", b.uniform("w", 1, 3, 4), b.uniform("b", 1, 3)}, "transB", 1L, "alpha", 0.7f);
        y = b.node("Tanh", y);
        b.nodeWithOutput("Gemm", new String[] {y, b.uniform("w2", 1, 3, 3)}, "logits");
        OnnxModel model = b.output("logits", 0, 3).build();
        Dataset data = randomData(new Random(1), 6, new long[] {4}, 3);
        checkGradients(model, data, "x", new String[] {"w", "b", "w2"});
    }

    @Test
    void convGradientMatchesFiniteDifferences() {
        GraphBuilder b = new GraphBuilder(13, 8);
        b.input("x", 0, 2, 5, 5);
        String y = b.node("Conv", new String[] {"x", b.uniform("cw", 0.5, 4, 1, 3, 3), b.uniform("cb", 0.5, 4)}, "group", 2L,
                "pads", new long[] {1, 0, 1, 1}, "strides", new long[] {2, 2});
        y = b.node("Sigmoid", y);
        y = b.node("AveragePool", y, "kernel_shape", new long[] {2, 2});
        y = b.node("Flatten", y);
        b.nodeWithOutput("Gemm", new String[] {y, b.uniform("fw", 0.5, 8, 3)}, "logits");
        OnnxModel model = b.output("logits", 0, 3).build();
        Dataset data = randomData(new Random(2), 5, new long[] {2, 5, 5}, 3);
        checkGradients(model, data, "x", new String[] {"cw", "cb", "fw"});
    }

    private static void checkGradients(OnnxModel model, Dataset data, String input, String[] weights) {
        TrainingResult result = TRAINER.train(TrainingRequest.builder(model, data).batchSize(data.size()).epochs(1)
                .optimizer(Optimizer.sgd(0, 0)).schedule(LearningRateSchedule.constant(1)).build());
        int checked = 0;
        for (String name : weights) {
            float[] before = model.tensor(name).toFloatArray();
            float[] after = result.model().tensor(name).toFloatArray();
            for (int i = 0; i < before.length; i++) {
                double analytic = before[i] - after[i];
                double numeric = numericGradient(model, data, input, name, i, 1e-2f);
                assertThat(analytic).as("d loss / d %s[%d]", name, i).isCloseTo(numeric, org.assertj.core.data.Offset.offset(
                        2e-3 + 2e-2 * Math.abs(numeric)));
                checked++;
            }
        }
        assertThat(checked).isGreaterThan(20);
        double lossBefore = loss(model, data, input);
        assertThat(loss(result.model(), data, input)).as("one step against the gradient lowers the loss").isLessThan(lossBefore);
    }

    private static double numericGradient(OnnxModel model, Dataset data, String input, String name, int index, float epsilon) {
        return (loss(perturbed(model, name, index, epsilon), data, input) - loss(perturbed(model, name, index, -epsilon), data, input))
                / (2 * epsilon);
    }

    private static OnnxModel perturbed(OnnxModel model, String name, int index, float delta) {
        Tensor tensor = model.tensor(name);
        float[] values = tensor.toFloatArray();
        values[index] += delta;
        return model.edit().putInitializer(Tensor.fromFloats(name, DataType.FLOAT, tensor.shape(), values).toProto()).build();
    }

    /** Mean cross-entropy of the labels, from an inference-mode forward pass (the graphs have no dropout or batch norm). */
    static double loss(OnnxModel model, Dataset data, String input) {
        float[] logits = TRAINER.run(model, Map.of(input, data.inputs())).values().iterator().next().toFloatArray();
        long[] labels = data.labels().orElseThrow().toLongArray();
        int classes = logits.length / labels.length;
        double total = 0;
        for (int n = 0; n < labels.length; n++) {
            double max = Double.NEGATIVE_INFINITY;
            for (int c = 0; c < classes; c++) {
                max = Math.max(max, logits[n * classes + c]);
            }
            double sum = 0;
            for (int c = 0; c < classes; c++) {
                sum += Math.exp(logits[n * classes + c] - max);
            }
            total += max + Math.log(sum) - logits[n * classes + (int) labels[n]];
        }
        return total / labels.length;
    }

    static Dataset randomData(Random random, int count, long[] sampleShape, int classes) {
        long[] shape = new long[sampleShape.length + 1];
        shape[0] = count;
        System.arraycopy(sampleShape, 0, shape, 1, sampleShape.length);
        float[] values = new float[Math.toIntExact(NdArray.elementCount(shape))];
        for (int i = 0; i < values.length; i++) {
            values[i] = (float) random.nextGaussian();
        }
        long[] labels = new long[count];
        for (int i = 0; i < count; i++) {
            labels[i] = random.nextInt(classes);
        }
        return Dataset.of(NdArray.ofFloats(shape, values), NdArray.ofLongs(new long[] {count}, labels));
    }
}
