package io.condense.server.training;

import static org.assertj.core.api.Assertions.assertThat;

import ai.onnx.proto.OnnxMl.NodeProto;
import io.condense.sdk.data.Dataset;
import io.condense.sdk.data.NdArray;
import io.condense.sdk.model.OnnxModel;
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
 * The training domain's ScaledGradient on a k-means codebook: a weight 3 x 4 gathered from a codebook of 4 entries. The
 * forward pass is unchanged (to rounding: x k + (x - x k)) and each entry's step is the plain (summed) step times the entry's factor, the weights' own
 * trainer untouched.
 */
class ScaledGradientTest {
    private static final Trainer TRAINER = ServiceLoader.load(Trainer.class).findFirst().orElseThrow();
    private static final float[] CODEBOOK = {-0.6f, -0.1f, 0.2f, 0.7f};
    private static final long[] INDICES = {0, 1, 2, 3, 3, 3, 1, 2, 2, 0, 3, 3};
    private static final float[] FACTORS = {0.5f, 0.25f, 1f / 3, 1f / 5};

    private static OnnxModel network(boolean scaled) {
        GraphBuilder b = new GraphBuilder(13, 21);
        b.input("x", 0, 4);
        b.floats("codebook", new long[] {4}, CODEBOOK);
        b.longs("indices_flat", INDICES);
        String shape = b.longs("shape", 3, 4);
        String indices = b.node("Reshape", new String[] {"indices_flat", shape});
        String table = "codebook";
        if (scaled) {
            b.floats("factor", new long[] {4}, FACTORS);
            b.rawNode(NodeProto.newBuilder().setOpType(TrainingOperators.SCALED_GRADIENT).setDomain(TrainingOperators.DOMAIN)
                    .setName("shared").addInput("codebook").addInput("factor").addOutput("codebook_shared").build());
            table = "codebook_shared";
        }
        String weight = b.node("Gather", new String[] {table, indices});
        b.nodeWithOutput("Gemm", new String[] {"x", weight}, "logits", "transB", 1L);
        return b.output("logits", 0, 3).build();
    }

    private static OnnxModel step(OnnxModel model, Dataset data) {
        return TRAINER.train(TrainingRequest.builder(model, data).batchSize(data.size()).epochs(1).trainable(Set.of("codebook"))
                .optimizer(Optimizer.sgd(0, 0)).schedule(LearningRateSchedule.constant(1)).build()).model();
    }

    @Test
    void forwardIsUnchangedAndEachEntrysStepIsScaledByItsFactor() {
        OnnxModel plain = network(false);
        OnnxModel scaled = network(true);
        NdArray inputs = NdArray.ofFloats(new long[] {2, 4}, new float[] {0.3f, -1.2f, 0.5f, 2f, 1f, 0.1f, -0.4f, 9f});
        assertThat(TRAINER.run(scaled, Map.of("x", inputs)).get("logits").toFloatArray())
                .containsExactly(TRAINER.run(plain, Map.of("x", inputs)).get("logits").toFloatArray(), Offset.offset(1e-5f));

        Dataset data = GradientTest.randomData(new Random(5), 8, new long[] {4}, 3);
        float[] plainAfter = step(plain, data).tensor("codebook").toFloatArray();
        float[] scaledAfter = step(scaled, data).tensor("codebook").toFloatArray();
        for (int i = 0; i < CODEBOOK.length; i++) {
            double plainStep = CODEBOOK[i] - (double) plainAfter[i];
            assertThat(plainStep).as("entry %d trains", i).isNotZero();
            assertThat(CODEBOOK[i] - (double) scaledAfter[i]).as("entry %d", i).isCloseTo(plainStep * FACTORS[i], Offset.offset(1e-6));
        }
    }
}
