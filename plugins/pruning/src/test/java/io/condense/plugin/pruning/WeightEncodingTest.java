package io.condense.plugin.pruning;

import static org.assertj.core.api.Assertions.assertThat;

import ai.onnx.proto.OnnxMl.SparseTensorProto;
import io.condense.sdk.tensor.Tensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.junit.jupiter.api.Test;

class WeightEncodingTest {

    @Test
    void sparseFormReadsBackAsTheDenseWeights() {
        float[] weights = {0f, 1.5f, 0f, 0f, -2f, -0f, 0f, 3f};
        byte[] dense = new byte[weights.length * 4];
        ByteBuffer.wrap(dense).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().put(weights);
        SparseTensorProto sparse = WeightEncoding.sparse("w", new long[] {2, 4}, dense, 3);
        assertThat(sparse.getValues().getDimsList()).containsExactly(3L);
        assertThat(sparse.getIndices().getDataType()).as("int64 indices, as ONNX requires").isEqualTo(7);
        Tensor back = Tensor.fromSparseProto(sparse);
        assertThat(back.shape()).containsExactly(2, 4);
        assertThat(back.toFloatArray()).containsExactly(0f, 1.5f, 0f, 0f, -2f, 0f, 0f, 3f);
        assertThat(Tensor.fromProto(WeightEncoding.dense("w", new long[] {2, 4}, dense)).toFloatArray()).containsExactly(weights);
    }

    @Test
    void sparseIsChosenOnlyBelowOneThirdDensity() {
        assertThat(WeightEncoding.sparseIsSmaller(300, 100)).isFalse();
        assertThat(WeightEncoding.sparseIsSmaller(300, 99)).isTrue();
    }
}
