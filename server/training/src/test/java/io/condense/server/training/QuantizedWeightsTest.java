package io.condense.server.training;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.condense.sdk.data.Dataset;
import io.condense.sdk.data.NdArray;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.tensor.DataType;
import io.condense.sdk.tensor.Tensor;
import io.condense.sdk.training.LearningRateSchedule;
import io.condense.sdk.training.Optimizer;
import io.condense.sdk.training.Trainer;
import io.condense.sdk.training.TrainingRequest;
import java.util.Map;
import java.util.Random;
import java.util.ServiceLoader;
import org.junit.jupiter.api.Test;

/**
 * What quantization-aware and codebook fine-tuning need from the runtime: blocked (opset 21) DequantizeLinear and
 * QuantizeLinear with 4- and 8-bit levels agree with ONNX Runtime; a k-means codebook read by Cast and Gather of uint4
 * indices gets, per entry, the sum of the gradients of the weights that share it; Sign passes gradients straight
 * through where |x| <= 1.
 */
class QuantizedWeightsTest {
    private static final Trainer TRAINER = ServiceLoader.load(Trainer.class).findFirst().orElseThrow();

    private static NdArray randomInputs(int count, int features, Random random) {
        float[] values = new float[count * features];
        for (int i = 0; i < values.length; i++) {
            values[i] = (float) random.nextGaussian();
        }
        return NdArray.ofFloats(new long[] {count, features}, values);
    }

    private static int[] randomLevels(Random random, int count, int low, int high) {
        int[] levels = new int[count];
        for (int i = 0; i < count; i++) {
            levels[i] = low + random.nextInt(high - low + 1);
        }
        return levels;
    }

    private static String ints(GraphBuilder b, String name, DataType type, long[] shape, int[] values) {
        byte[] raw = Tensor.fromInts(name, type, shape, values).toProto().getRawData().toByteArray();
        return b.bytes(name, type, shape, raw);
    }

    @Test
    void blockedDequantizeLinearAgreesWithOnnxRuntime() {
        Random random = new Random(11);
        GraphBuilder b = new GraphBuilder(21, 11);
        b.input("x", 0, 7);
        // Gemm weight [3, 7] in uint4 levels, blocks of 3 along the input features (axis 1): 3 blocks, the last of 1
        String levels = ints(b, "w_levels", DataType.UINT4, new long[] {3, 7}, randomLevels(random, 21, 0, 15));
        String scale = b.uniform("w_scale", 0.2, 3, 3);
        String zeroPoint = ints(b, "w_zero_point", DataType.UINT4, new long[] {3, 3}, randomLevels(random, 9, 0, 15));
        String w = b.node("DequantizeLinear", new String[] {levels, scale, zeroPoint}, "axis", 1L, "block_size", 3L);
        String h = b.node("Gemm", new String[] {"x", w}, "transB", 1L);
        // MatMul weight [3, 4] in int4, blocks of 2 along axis 0 (the stored [in, out] orientation)
        String levels2 = ints(b, "v_levels", DataType.INT4, new long[] {3, 4}, randomLevels(random, 12, -8, 7));
        String scale2 = b.uniform("v_scale", 0.2, 2, 4);
        String zeroPoint2 = ints(b, "v_zero_point", DataType.INT4, new long[] {2, 4}, randomLevels(random, 8, -8, 7));
        String v = b.node("DequantizeLinear", new String[] {levels2, scale2, zeroPoint2}, "axis", 0L, "block_size", 2L);
        String m = b.node("MatMul", new String[] {h, v});
        // a float weight fake-quantized with blocked int8 scales (QuantizeLinear -> DequantizeLinear)
        String u = b.uniform("u", 1, 4, 5);
        String uScale = b.uniform("u_scale", 0.05, 2, 5);
        String uZero = ints(b, "u_zero_point", DataType.INT8, new long[] {2, 5}, randomLevels(random, 10, -3, 3));
        String q = b.node("QuantizeLinear", new String[] {u, uScale, uZero}, "axis", 0L, "block_size", 3L);
        String uq = b.node("DequantizeLinear", new String[] {q, uScale, uZero}, "axis", 0L, "block_size", 3L);
        b.nodeWithOutput("MatMul", new String[] {m, uq}, "logits");
        OnnxModel model = b.output("logits", 0, 5).build();
        ForwardAgreementTest.assertAgrees(model, Map.of("x", randomInputs(6, 7, random)), 1e-5);
    }

    @Test
    void codebookGradientIsTheSumOverTheWeightsSharingEachEntry() {
        Random random = new Random(12);
        int[] indices = randomLevels(random, 15, 0, 3);
        float[] codebook = {-0.6f, -0.1f, 0.25f, 0.7f};
        GraphBuilder b = new GraphBuilder(21, 12);
        b.input("x", 0, 5);
        b.floats("codebook", new long[] {4}, codebook);
        String index = ints(b, "indices", DataType.UINT4, new long[] {3, 5}, indices);
        String cast = b.node("Cast", index, "to", 6L);
        String w = b.node("Gather", new String[] {"codebook", cast}, "axis", 0L);
        b.nodeWithOutput("Gemm", new String[] {"x", w, b.uniform("bias", 0.1, 3)}, "logits", "transB", 1L);
        OnnxModel shared = b.output("logits", 0, 3).build();

        // the same network with the weight written out: its gradient per element is the reference
        float[] weight = new float[15];
        for (int i = 0; i < 15; i++) {
            weight[i] = codebook[indices[i]];
        }
        GraphBuilder f = new GraphBuilder(21, 12);
        f.input("x", 0, 5);
        f.floats("w", new long[] {3, 5}, weight);
        f.nodeWithOutput("Gemm", new String[] {"x", "w", f.floats("bias", new long[] {3}, shared.tensor("bias").toFloatArray())}, "logits",
                "transB", 1L);
        OnnxModel plain = f.output("logits", 0, 3).build();
        ForwardAgreementTest.assertAgrees(shared, Map.of("x", randomInputs(4, 5, random)), 1e-6);

        Dataset data = GradientTest.randomData(random, 8, new long[] {5}, 3);
        float[] sharedAfter = step(shared, data).tensor("codebook").toFloatArray();
        OnnxModel sharedTrained = step(shared, data);
        float[] plainAfter = step(plain, data).tensor("w").toFloatArray();
        double[] expected = new double[4];
        for (int i = 0; i < 15; i++) {
            expected[indices[i]] += weight[i] - plainAfter[i];
        }
        for (int k = 0; k < 4; k++) {
            assertThat((double) codebook[k] - sharedAfter[k]).as("gradient of entry %d", k).isCloseTo(expected[k],
                    org.assertj.core.data.Offset.offset(1e-5));
        }
        for (int k = 0; k < 4; k++) {
            assertThat(Math.abs(expected[k])).as("entry %d is used and moves", k).isGreaterThan(1e-4);
        }
        assertThat(sharedTrained.tensor("indices").rawByteString()).isEqualTo(shared.tensor("indices").rawByteString());
        assertThat(sharedTrained.tensor("indices").dataType()).isEqualTo(DataType.UINT4);
    }

    @Test
    void signPassesGradientsStraightThroughWithinOne() {
        Random random = new Random(13);
        float[] latent = {0.3f, -0.2f, 1.5f, -0.05f, -2f, 0.9f, 0.6f, -0.7f, 1.2f, -0.4f, 0.1f, -1.1f};
        GraphBuilder b = new GraphBuilder(13, 13);
        b.input("x", 0, 4);
        b.floats("latent", new long[] {3, 4}, latent);
        String w = b.node("Sign", "latent");
        b.nodeWithOutput("Gemm", new String[] {"x", w}, "logits", "transB", 1L);
        OnnxModel binary = b.output("logits", 0, 3).build();
        ForwardAgreementTest.assertAgrees(binary, Map.of("x", randomInputs(4, 4, random)), 1e-6);

        float[] signs = new float[latent.length];
        for (int i = 0; i < latent.length; i++) {
            signs[i] = Math.signum(latent[i]);
        }
        GraphBuilder f = new GraphBuilder(13, 13);
        f.input("x", 0, 4);
        f.floats("w", new long[] {3, 4}, signs);
        f.nodeWithOutput("Gemm", new String[] {"x", "w"}, "logits", "transB", 1L);
        OnnxModel plain = f.output("logits", 0, 3).build();

        Dataset data = GradientTest.randomData(random, 8, new long[] {4}, 3);
        float[] after = step(binary, data).tensor("latent").toFloatArray();
        float[] plainAfter = step(plain, data).tensor("w").toFloatArray();
        for (int i = 0; i < latent.length; i++) {
            double expected = Math.abs(latent[i]) <= 1 ? signs[i] - plainAfter[i] : 0;
            assertThat((double) latent[i] - after[i]).as("gradient of latent[%d] = %s", i, latent[i]).isCloseTo(expected,
                    org.assertj.core.data.Offset.offset(1e-6));
        }
    }

    @Test
    void quantizeLinearToAFourBitZeroPointIsRefused() {
        GraphBuilder b = new GraphBuilder(21, 14);
        b.input("x", 0, 4);
        String zeroPoint = ints(b, "zp", DataType.UINT4, new long[0], new int[] {3});
        String q = b.node("QuantizeLinear", new String[] {"x", b.constant("s", 0.1f), zeroPoint});
        b.nodeWithOutput("DequantizeLinear", new String[] {q, "s", zeroPoint}, "logits");
        OnnxModel model = b.output("logits", 0, 4).build();
        assertThatThrownBy(() -> TRAINER.run(model, Map.of("x", randomInputs(2, 4, new Random(1)))))
                .isInstanceOfSatisfying(CondenseException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.UNSUPPORTED_MODEL))
                .hasMessageContaining("4-bit zero point");
    }

    /** One full-batch SGD step of rate 1 without momentum: each trained value moves by minus its gradient. */
    private static OnnxModel step(OnnxModel model, Dataset data) {
        return TRAINER.train(TrainingRequest.builder(model, data).batchSize(data.size()).epochs(1)
                .optimizer(Optimizer.sgd(0, 0)).schedule(LearningRateSchedule.constant(1)).build()).model();
    }
}
