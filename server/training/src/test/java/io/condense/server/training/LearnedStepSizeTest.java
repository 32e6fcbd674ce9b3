package io.condense.server.training;

import static org.assertj.core.api.Assertions.assertThat;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import io.condense.sdk.data.Dataset;
import io.condense.sdk.data.NdArray;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.tensor.DataType;
import io.condense.sdk.training.LearningRateSchedule;
import io.condense.sdk.training.Optimizer;
import io.condense.sdk.training.Trainer;
import io.condense.sdk.training.TrainingOperators;
import io.condense.sdk.training.TrainingRequest;
import java.util.Map;
import java.util.Random;
import java.util.ServiceLoader;
import java.util.Set;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.Test;

/**
 * The training domain's LearnedStepSize (LSQ): an input activation fake-quantized to int8 with a trainable step and a
 * weight fake-quantized to int8 levels with its own. The op leaves the forward pass unchanged and multiplies each step's
 * gradient by 1 / sqrt(N x Qp) (N: elements per step, per sample for the activation); the step's gradient itself is
 * LSQ's, checked on one element against round(x/s) - x/s inside the range and the clipped level outside.
 */
class LearnedStepSizeTest {
    private static final Trainer TRAINER = ServiceLoader.load(Trainer.class).findFirst().orElseThrow();
    private static final float ACTIVATION_STEP = 0.05f;
    private static final float WEIGHT_STEP = 0.1f;

    /** x (batch x 4) -> QDQ int8 (step sa) -> Gemm with a QDQ int8 weight 3 x 4 (step sw); learned steps when {@code learned}. */
    private static OnnxModel network(float[] weight, boolean learned) {
        GraphBuilder b = new GraphBuilder(13, 21);
        b.input("x", 0, 4);
        b.floats("sa", new long[0], new float[] {ACTIVATION_STEP});
        b.floats("sw", new long[0], new float[] {WEIGHT_STEP});
        b.floats("w", new long[] {3, 4}, weight);
        b.bytes("zp", DataType.INT8, new long[0], new byte[] {0});
        String activationStep = learned ? learnedStep(b, "sa", "x", 127, 1) : "sa";
        String weightStep = learned ? learnedStep(b, "sw", "w", 127, 0) : "sw";
        String q = b.node("QuantizeLinear", new String[] {"x", activationStep, "zp"});
        String d = b.node("DequantizeLinear", new String[] {q, activationStep, "zp"});
        String wq = b.node("QuantizeLinear", new String[] {"w", weightStep, "zp"});
        String wd = b.node("DequantizeLinear", new String[] {wq, weightStep, "zp"});
        b.nodeWithOutput("Gemm", new String[] {d, wd}, "logits", "transB", 1L);
        return b.output("logits", 0, 3).build();
    }

    private static String learnedStep(GraphBuilder b, String scale, String x, float positiveLevels, long samples) {
        String output = scale + "_learned";
        b.rawNode(NodeProto.newBuilder().setOpType(TrainingOperators.LEARNED_STEP_SIZE).setDomain(TrainingOperators.DOMAIN)
                .setName(output + "_node").addInput(scale).addInput(x).addOutput(output)
                .addAttribute(AttributeProto.newBuilder().setName(TrainingOperators.POSITIVE_LEVELS).setType(AttributeProto.AttributeType.FLOAT)
                        .setF(positiveLevels))
                .addAttribute(AttributeProto.newBuilder().setName(TrainingOperators.SAMPLES).setType(AttributeProto.AttributeType.INT)
                        .setI(samples))
                .build());
        return output;
    }

    private static OnnxModel step(OnnxModel model, Dataset data) {
        return TRAINER.train(TrainingRequest.builder(model, data).batchSize(data.size()).epochs(1).trainable(Set.of("sa", "sw", "w"))
                .optimizer(Optimizer.sgd(0, 0)).schedule(LearningRateSchedule.constant(1)).build()).model();
    }

    @Test
    void forwardIsUnchangedAndEachStepsGradientIsScaledByOneOverSqrtOfElementsTimesLevels() {
        Random random = new Random(3);
        float[] weight = new float[12];
        for (int i = 0; i < weight.length; i++) {
            weight[i] = (float) (random.nextGaussian() * 0.5);
        }
        OnnxModel plain = network(weight, false);
        OnnxModel learned = network(weight, true);
        NdArray inputs = NdArray.ofFloats(new long[] {2, 4}, new float[] {0.3f, -1.2f, 0.5f, 2f, 1f, 0.1f, -0.4f, 9f});
        assertThat(TRAINER.run(learned, Map.of("x", inputs)).get("logits").toFloatArray())
                .containsExactly(TRAINER.run(plain, Map.of("x", inputs)).get("logits").toFloatArray());

        Dataset data = GradientTest.randomData(random, 8, new long[] {4}, 3);
        OnnxModel plainAfter = step(plain, data);
        OnnxModel learnedAfter = step(learned, data);
        double activationGradient = ACTIVATION_STEP - plainAfter.tensor("sa").toFloatArray()[0];
        double weightGradient = WEIGHT_STEP - plainAfter.tensor("sw").toFloatArray()[0];
        assertThat(activationGradient).as("the activation step trains").isNotZero();
        assertThat(weightGradient).as("the weight step trains").isNotZero();
        // activation: 4 features a sample; weight: 12 elements on one step; Qp 127 for both
        assertThat(ACTIVATION_STEP - (double) learnedAfter.tensor("sa").toFloatArray()[0])
                .isCloseTo(activationGradient / Math.sqrt(4 * 127.0), Offset.offset(1e-7));
        assertThat(WEIGHT_STEP - (double) learnedAfter.tensor("sw").toFloatArray()[0])
                .isCloseTo(weightGradient / Math.sqrt(12 * 127.0), Offset.offset(1e-7));
        assertThat(learnedAfter.tensor("w").toFloatArray()).as("the weights' own gradient is unchanged")
                .containsExactly(plainAfter.tensor("w").toFloatArray(), Offset.offset(1e-6f));
    }

    /** One weight, one input, logits = x x dq(w): d logit / d s = x (round(w/s) - w/s) inside the range, x Qp when clipped. */
    @Test
    void theStepsGradientIsLsqs() {
        for (float w : new float[] {0.234f, 30f}) {
            GraphBuilder b = new GraphBuilder(13, 21);
            b.input("x", 0, 1);
            b.floats("s", new long[0], new float[] {WEIGHT_STEP});
            b.floats("w", new long[] {2, 1}, new float[] {w, 0f});
            b.bytes("zp", DataType.INT8, new long[0], new byte[] {0});
            String q = b.node("QuantizeLinear", new String[] {"w", "s", "zp"});
            String d = b.node("DequantizeLinear", new String[] {q, "s", "zp"});
            b.nodeWithOutput("Gemm", new String[] {"x", d}, "logits", "transB", 1L);
            OnnxModel model = b.output("logits", 0, 2).build();
            // one sample x = 1 of class 1: d loss / d logit0 = softmax0 = 1 / (1 + e^(-v)) with logit1 = 0, v = dq(w)
            Dataset data = Dataset.of(NdArray.ofFloats(new long[] {1, 1}, new float[] {1f}), NdArray.ofLongs(new long[] {1}, new long[] {1}));
            OnnxModel after = TRAINER.train(TrainingRequest.builder(model, data).batchSize(1).epochs(1).trainable(Set.of("s"))
                    .optimizer(Optimizer.sgd(0, 0)).schedule(LearningRateSchedule.constant(1)).build()).model();
            double level = Math.min(127, Math.rint(w / WEIGHT_STEP));
            double value = level * WEIGHT_STEP;
            double softmax = 1 / (1 + Math.exp(-value));
            double levelGradient = level == 127 ? 127 : level - w / WEIGHT_STEP;
            assertThat(WEIGHT_STEP - (double) after.tensor("s").toFloatArray()[0]).as("w = %s", w)
                    .isCloseTo(softmax * levelGradient, Offset.offset(1e-5));
        }
    }
}
