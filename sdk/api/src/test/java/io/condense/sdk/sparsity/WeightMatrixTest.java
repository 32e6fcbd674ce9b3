package io.condense.sdk.sparsity;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The SDK's Gram matrix orders a Conv's columns as the weight stores them; {@link WeightMatrix#gramColumn} maps to it. */
class WeightMatrixTest {

    private static io.condense.sdk.model.WeightLayer layer(String op, int group, int outputAxis, int inputAxis) {
        ai.onnx.proto.OnnxMl.NodeProto node = ai.onnx.proto.OnnxMl.NodeProto.newBuilder().setOpType(op).setName(op).addInput("x")
                .addInput("w").addOutput("y").addAttribute(ai.onnx.proto.OnnxMl.AttributeProto.newBuilder().setName("group")
                        .setType(ai.onnx.proto.OnnxMl.AttributeProto.AttributeType.INT).setI(group)).build();
        return new io.condense.sdk.model.WeightLayer(node, 0, "w", null, outputAxis, inputAxis);
    }

    private static float[] distinct(int count) {
        float[] values = new float[count];
        for (int i = 0; i < count; i++) {
            values[i] = (i % 7 + 1) * (i % 2 == 0 ? 1f : -1f) + i * 1e-3f;
        }
        return values;
    }

    @Test
    void twoOfFourGroupsOfAConvTransposeRunAlongItsInputChannelsWithinEachGroup() {
        // [C_in = 16, C_out / group = 3, 2, 2] with group 2: 8 input channels per group, two 2:4 groups each
        long[] shape = {16, 3, 2, 2};
        float[] pruned = MagnitudeMasks.magnitudePattern(distinct(16 * 12), WeightMatrix.of(layer("ConvTranspose", 2, 1, 0), shape),
                new NmPattern(2, 4));
        for (int position = 0; position < 12; position++) { // (output channel, kernel position)
            for (int start = 0; start < 16; start += 4) {
                int kept = 0;
                for (int channel = start; channel < start + 4; channel++) {
                    kept += pruned[channel * 12 + position] != 0 ? 1 : 0;
                }
                assertThat(kept).as("input channels %d..%d at %d", start, start + 3, position).isEqualTo(2);
            }
        }
    }

    @Test
    void twoOfFourGroupsOfABatchedMatMulWeightRunAlongKInsideEachMatrix() {
        // [2, K = 6, N = 5]: K = 6 is one group of 4 and one of 2 per matrix, restarting with the second matrix
        long[] shape = {2, 6, 5};
        float[] pruned = MagnitudeMasks.magnitudePattern(distinct(60), WeightMatrix.of(layer("MatMul", 1, 2, 1), shape),
                new NmPattern(2, 4));
        for (int matrix = 0; matrix < 2; matrix++) {
            for (int column = 0; column < 5; column++) {
                int firstGroup = 0;
                int secondGroup = 0;
                for (int k = 0; k < 6; k++) {
                    boolean kept = pruned[(matrix * 6 + k) * 5 + column] != 0;
                    firstGroup += k < 4 && kept ? 1 : 0;
                    secondGroup += k >= 4 && kept ? 1 : 0;
                }
                assertThat(firstGroup).isEqualTo(2);
                assertThat(secondGroup).isEqualTo(2);
            }
        }
    }

    @Test
    void gramColumnIsTheWeightsOwnOrderInsideOneOutputChannel() {
        // 2 groups of 3 output channels, 4 input channels per group, a 2x3 kernel: columns (kernel position, channel)
        WeightMatrix matrix = new WeightMatrix(2, 3, 24, 4, 6, true);
        Set<Integer> seen = new HashSet<>();
        for (int group = 0; group < matrix.groups(); group++) {
            for (int row = 0; row < matrix.rows(); row++) {
                for (int column = 0; column < matrix.columns(); column++) {
                    int channelStart = (group * matrix.rows() + row) * matrix.columns();
                    assertThat(matrix.flatIndex(group, row, column)).isEqualTo(channelStart + matrix.gramColumn(column));
                }
            }
        }
        for (int column = 0; column < matrix.columns(); column++) {
            seen.add(matrix.gramColumn(column));
        }
        assertThat(seen).hasSize(matrix.columns());
        // consecutive columns are consecutive input channels at one kernel position: 6 apart in the weight
        assertThat(matrix.gramColumn(1) - matrix.gramColumn(0)).isEqualTo(6);
    }

    @Test
    void gramColumnIsTheIdentityForMatrices() {
        WeightMatrix matrix = new WeightMatrix(1, 5, 7, 7, 1, false);
        for (int column = 0; column < 7; column++) {
            assertThat(matrix.gramColumn(column)).isEqualTo(column);
        }
    }
}
