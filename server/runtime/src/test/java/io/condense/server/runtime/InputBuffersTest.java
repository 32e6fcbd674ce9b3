package io.condense.server.runtime;

import static org.assertj.core.api.Assertions.assertThat;

import io.condense.sdk.data.NdArray;
import io.condense.sdk.eval.InferenceSession;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.testkit.SharedData;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class InputBuffersTest {

    @Test
    void aBufferGivenBackServesTheNextInputThatFitsIt() {
        InputBuffers buffers = new InputBuffers();
        ByteBuffer first = buffers.take(4096);
        assertThat(first.isDirect()).isTrue();
        assertThat(first.order()).isEqualTo(ByteOrder.nativeOrder());
        assertThat(first.limit()).isEqualTo(4096);
        buffers.give(List.of(first));
        ByteBuffer again = buffers.take(1000);
        assertThat(again).isSameAs(first);
        assertThat(again.position()).isZero();
        assertThat(again.limit()).isEqualTo(1000);
        assertThat(buffers.take(8192)).isNotSameAs(first);
    }

    @Test
    void theSmallestSpareThatFitsIsTakenAndTheSmallestAreDroppedPastTheLimit() {
        InputBuffers buffers = new InputBuffers();
        List<ByteBuffer> taken = new ArrayList<>();
        for (int size : new int[] {100, 600, 300, 500, 200, 400}) {
            taken.add(buffers.take(size));
        }
        // equal contents (all zeros): a ByteBuffer's equals would call them the same buffer
        buffers.give(taken);
        assertThat(buffers.spare()).isEqualTo(InputBuffers.KEPT);
        assertThat(buffers.take(250)).isSameAs(taken.get(2));
        assertThat(buffers.take(250)).isSameAs(taken.get(5));
        assertThat(buffers.take(100).capacity()).isEqualTo(500);
        assertThat(buffers.take(100).capacity()).isEqualTo(600);
        assertThat(buffers.spare()).isZero();
    }

    @Test
    void aSessionRunsOnItsOwnBuffersAgainWithTheSameAnswers() {
        OnnxModel model = OnnxModel.load(SharedData.model("mnist8/model.onnx"));
        try (InferenceSession opened = new OnnxRuntimeEvaluator().open(model)) {
            OnnxRuntimeSession session = (OnnxRuntimeSession) opened;
            float[] previous = null;
            for (int digit = 0; digit < 6; digit++) {
                float[] pixels = new float[28 * 28];
                for (int i = 0; i < pixels.length; i++) {
                    pixels[i] = ((i * 7 + digit * 13) % 255) / 255f;
                }
                Map<String, NdArray> feed = Map.of("Input3", NdArray.ofFloats(new long[] {1, 1, 28, 28}, pixels));
                float[] output = session.run(feed).get("Plus214_Output_0").floatData();
                // the same input through the reused buffer gives the same output; another input another output
                assertThat(session.run(feed).get("Plus214_Output_0").floatData()).containsExactly(output);
                assertThat(output).isNotEqualTo(previous);
                previous = output;
                assertThat(session.spareInputBuffers()).isEqualTo(1);
            }
        }
    }
}
