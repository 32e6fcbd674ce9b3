package io.condense.server.training;

import static org.assertj.core.api.Assertions.assertThat;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import com.google.protobuf.ByteString;
import io.condense.sdk.data.Dataset;
import io.condense.sdk.data.NdArray;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.training.LearningRateSchedule;
import io.condense.sdk.training.Optimizer;
import io.condense.sdk.training.Trainer;
import io.condense.sdk.training.TrainingOperators;
import io.condense.sdk.training.TrainingRequest;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.ServiceLoader;
import java.util.concurrent.atomic.AtomicBoolean;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.Test;

/**
 * The training domain's TrainedTernary (TTQ): forward values {Wp, 0, -Wn} by the threshold t x max |latent|, and one SGD
 * step against the same network with the ternary weight written out as a float initializer: the positive scale moves
 * by the sum of the weight gradients over the positive elements (times the node's scale_gradient), the negative one by
 * minus the sum over the negative elements, each latent by its weight gradient times Wp, 1 or Wn.
 */
class TrainedTernaryTest {
    private static final Trainer TRAINER = ServiceLoader.load(Trainer.class).findFirst().orElseThrow();

    private static OnnxModel ternaryNetwork(float[] latent, float wp, float wn, float threshold, float scaleGradient) {
        return ternaryNetwork(latent, wp, wn, threshold, scaleGradient, 1f, false);
    }

    private static OnnxModel ternaryNetwork(float[] latent, float wp, float wn, float threshold, float scaleGradient, float alpha) {
        return ternaryNetwork(latent, wp, wn, threshold, scaleGradient, alpha, false);
    }

    private static OnnxModel ternaryNetwork(float[] latent, float wp, float wn, float threshold, float scaleGradient, float alpha,
            boolean plainLatentGradient) {
        GraphBuilder b = new GraphBuilder(13, 21);
        b.input("x", 0, 4);
        b.floats("latent", new long[] {3, 4}, latent);
        b.floats("wp", new long[0], new float[] {wp});
        b.floats("wn", new long[0], new float[] {wn});
        b.rawNode(NodeProto.newBuilder().setOpType(TrainingOperators.TRAINED_TERNARY).setDomain(TrainingOperators.DOMAIN)
                .setName("ttq").addInput("latent").addInput("wp").addInput("wn").addOutput("w")
                .addAttribute(AttributeProto.newBuilder().setName(TrainingOperators.THRESHOLD).setType(AttributeProto.AttributeType.FLOAT)
                        .setF(threshold))
                .addAttribute(AttributeProto.newBuilder().setName(TrainingOperators.SCALE_GRADIENT)
                        .setType(AttributeProto.AttributeType.FLOAT).setF(scaleGradient))
                .addAllAttribute(plainLatentGradient ? List.of(AttributeProto.newBuilder().setName(TrainingOperators.LATENT_GRADIENT)
                        .setType(AttributeProto.AttributeType.STRING).setS(ByteString.copyFromUtf8(TrainingOperators.PLAIN)).build()) : List.of())
                .build());
        b.nodeWithOutput("Gemm", new String[] {"x", "w"}, "logits", "transB", 1L, "alpha", alpha);
        return b.output("logits", 0, 3).build();
    }

    private static OnnxModel plainNetwork(float[] weights) {
        GraphBuilder f = new GraphBuilder(13, 21);
        f.input("x", 0, 4);
        f.floats("w", new long[] {3, 4}, weights);
        f.nodeWithOutput("Gemm", new String[] {"x", "w"}, "logits", "transB", 1L);
        return f.output("logits", 0, 3).build();
    }

    private static OnnxModel step(OnnxModel model, Dataset data) {
        return TRAINER.train(TrainingRequest.builder(model, data).batchSize(data.size()).epochs(1)
                .optimizer(Optimizer.sgd(0, 0)).schedule(LearningRateSchedule.constant(1)).build()).model();
    }

    @Test
    void forwardIsTernaryAndGradientsAreThePapers() {
        checkOneStep(false);
    }

    /** latent_gradient=plain: the same forward values and scale gradients, each latent gets its weight's gradient as it is. */
    @Test
    void plainLatentGradientPassesTheWeightGradientUnscaled() {
        checkOneStep(true);
    }

    private static void checkOneStep(boolean plainLatentGradient) {
        Random random = new Random(5);
        float[] latent = new float[12];
        for (int i = 0; i < latent.length; i++) {
            latent[i] = (float) random.nextGaussian();
        }
        latent[3] = 0.01f;
        float threshold = 0.3f;
        float wp = 0.7f;
        float wn = 0.4f;
        float scaleGradient = 0.5f;
        float maximum = 0;
        for (float value : latent) {
            maximum = Math.max(maximum, Math.abs(value));
        }
        float delta = maximum * threshold;
        float[] ternary = new float[latent.length];
        for (int i = 0; i < latent.length; i++) {
            ternary[i] = latent[i] > delta ? wp : latent[i] < -delta ? -wn : 0f;
        }
        OnnxModel ttq = ternaryNetwork(latent, wp, wn, threshold, scaleGradient, 1f, plainLatentGradient);
        OnnxModel plain = plainNetwork(ternary);
        NdArray inputs = NdArray.ofFloats(new long[] {5, 4}, new float[] {
                0.3f, -1.2f, 0.5f, 2f, 1f, 0.1f, -0.4f, 0.9f, -1.5f, 0.7f, 0.2f, -0.3f, 0.6f, 0.6f, -0.8f, 1.1f, -0.2f, 0.4f, 1.3f, -0.9f});
        float[] ttqLogits = TRAINER.run(ttq, Map.of("x", inputs)).get("logits").toFloatArray();
        float[] plainLogits = TRAINER.run(plain, Map.of("x", inputs)).get("logits").toFloatArray();
        assertThat(ttqLogits).containsExactly(plainLogits, Offset.offset(1e-6f));

        Dataset data = GradientTest.randomData(random, 8, new long[] {4}, 3);
        OnnxModel trained = step(ttq, data);
        float[] weightAfter = step(plain, data).tensor("w").toFloatArray();
        double positiveSum = 0;
        double negativeSum = 0;
        float[] latentAfter = trained.tensor("latent").toFloatArray();
        for (int i = 0; i < latent.length; i++) {
            double gradient = ternary[i] - weightAfter[i];
            double gain = plainLatentGradient ? 1 : ternary[i] > 0 ? wp : ternary[i] < 0 ? wn : 1;
            assertThat((double) latent[i] - latentAfter[i]).as("gradient of latent[%d] = %s", i, latent[i])
                    .isCloseTo(gain * gradient, Offset.offset(1e-6));
            positiveSum += ternary[i] > 0 ? gradient : 0;
            negativeSum += ternary[i] < 0 ? gradient : 0;
        }
        assertThat(wp - (double) trained.tensor("wp").toFloatArray()[0]).isCloseTo(scaleGradient * positiveSum, Offset.offset(1e-6));
        assertThat(wn - (double) trained.tensor("wn").toFloatArray()[0]).isCloseTo(-scaleGradient * negativeSum, Offset.offset(1e-6));
    }

    /** Per-channel scales (attribute axis 0): row c reads {Wp[c], 0, -Wn[c]}, each scale gets the sums over its own row. */
    @Test
    void perChannelScalesBroadcastAlongTheAxisAndGetTheirRowsSums() {
        Random random = new Random(7);
        float[] latent = new float[12];
        for (int i = 0; i < latent.length; i++) {
            latent[i] = (float) random.nextGaussian();
        }
        float[] wp = {0.7f, 0.5f, 0.9f};
        float[] wn = {0.4f, 0.6f, 0.3f};
        float threshold = 0.2f;
        float maximum = 0;
        for (float value : latent) {
            maximum = Math.max(maximum, Math.abs(value));
        }
        float[] ternary = new float[latent.length];
        for (int i = 0; i < latent.length; i++) {
            ternary[i] = latent[i] > maximum * threshold ? wp[i / 4] : latent[i] < -maximum * threshold ? -wn[i / 4] : 0f;
        }
        GraphBuilder b = new GraphBuilder(13, 21);
        b.input("x", 0, 4);
        b.floats("latent", new long[] {3, 4}, latent);
        b.floats("wp", new long[] {3}, wp);
        b.floats("wn", new long[] {3}, wn);
        b.rawNode(NodeProto.newBuilder().setOpType(TrainingOperators.TRAINED_TERNARY).setDomain(TrainingOperators.DOMAIN)
                .setName("ttq").addInput("latent").addInput("wp").addInput("wn").addOutput("w")
                .addAttribute(AttributeProto.newBuilder().setName(TrainingOperators.THRESHOLD).setType(AttributeProto.AttributeType.FLOAT)
                        .setF(threshold))
                .addAttribute(AttributeProto.newBuilder().setName(TrainingOperators.AXIS).setType(AttributeProto.AttributeType.INT).setI(0))
                .build());
        b.nodeWithOutput("Gemm", new String[] {"x", "w"}, "logits", "transB", 1L);
        OnnxModel ttq = b.output("logits", 0, 3).build();
        OnnxModel plain = plainNetwork(ternary);
        NdArray inputs = NdArray.ofFloats(new long[] {2, 4}, new float[] {0.3f, -1.2f, 0.5f, 2f, 1f, 0.1f, -0.4f, 0.9f});
        assertThat(TRAINER.run(ttq, Map.of("x", inputs)).get("logits").toFloatArray())
                .containsExactly(TRAINER.run(plain, Map.of("x", inputs)).get("logits").toFloatArray(), Offset.offset(1e-6f));
        Dataset data = GradientTest.randomData(random, 8, new long[] {4}, 3);
        OnnxModel trained = step(ttq, data);
        float[] weightAfter = step(plain, data).tensor("w").toFloatArray();
        float[] wpAfter = trained.tensor("wp").toFloatArray();
        float[] wnAfter = trained.tensor("wn").toFloatArray();
        for (int c = 0; c < 3; c++) {
            double positiveSum = 0;
            double negativeSum = 0;
            for (int i = 4 * c; i < 4 * c + 4; i++) {
                double gradient = ternary[i] - weightAfter[i];
                positiveSum += ternary[i] > 0 ? gradient : 0;
                negativeSum += ternary[i] < 0 ? gradient : 0;
            }
            assertThat(wp[c] - (double) wpAfter[c]).as("Wp[%d]", c).isCloseTo(positiveSum, Offset.offset(1e-6));
            assertThat(wn[c] - (double) wnAfter[c]).as("Wn[%d]", c).isCloseTo(-negativeSum, Offset.offset(1e-6));
        }
    }

    /**
     * The scalars that autograd keeps for the backward pass (TTQ's scale-gradient factor, Gemm's alpha) survive garbage
     * collections between the forward and backward passes: with a thread collecting every millisecond and filling new
     * direct buffers with NaN, every step gives the model a quiet step gives. (With DJL's {@code mul(Number)} the collector
     * freed them and one of the first few stressed steps differed.)
     */
    @Test
    void gradientsDoNotDependOnGarbageCollection() throws InterruptedException {
        Random random = new Random(9);
        float[] latent = new float[12];
        for (int i = 0; i < latent.length; i++) {
            latent[i] = (float) random.nextGaussian();
        }
        OnnxModel ttq = ternaryNetwork(latent, 0.7f, 0.4f, 0.05f, 0.25f, 2f);
        Dataset data = GradientTest.randomData(random, 64, new long[] {4}, 3);
        byte[] quiet = step(ttq, data).toBytes();
        AtomicBoolean running = new AtomicBoolean(true);
        Thread collector = new Thread(() -> {
            while (running.get()) {
                for (int i = 0; i < 64; i++) {
                    java.nio.ByteBuffer garbage = java.nio.ByteBuffer.allocateDirect(64).order(java.nio.ByteOrder.nativeOrder());
                    while (garbage.remaining() >= 4) {
                        garbage.putFloat(Float.NaN);
                    }
                }
                System.gc();
                try {
                    Thread.sleep(1);
                } catch (InterruptedException e) {
                    return;
                }
            }
        }, "gc-stress");
        collector.setDaemon(true);
        collector.start();
        try {
            for (int run = 0; run < 20; run++) {
                assertThat(step(ttq, data).toBytes()).as("step %d under collection pressure", run).isEqualTo(quiet);
            }
        } finally {
            running.set(false);
            collector.join();
        }
    }
}
