package io.condense.sdk.tensor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class ChannelLayoutTest {

    @Test
    void splitsAShapeAroundTheAxis() {
        assertThat(ChannelLayout.of(new long[] {2, 3, 2}, 1)).isEqualTo(new ChannelLayout(2, 3, 2));
        ChannelLayout conv = ChannelLayout.of(new long[] {8, 3, 5, 5}, 0);
        assertThat(conv).isEqualTo(new ChannelLayout(1, 8, 75));
        assertThat(conv.elements()).isEqualTo(600);
        assertThat(conv.elementsPerChannel()).isEqualTo(75);
        ChannelLayout matMul = ChannelLayout.of(new long[] {4, 2}, 1);
        assertThat(matMul).isEqualTo(new ChannelLayout(4, 2, 1));
        assertThat(matMul.elementsPerChannel()).isEqualTo(4);
    }

    @Test
    void indicesMapBothWays() {
        ChannelLayout layout = new ChannelLayout(2, 3, 4);
        int flat = 0;
        for (int o = 0; o < 2; o++) {
            for (int c = 0; c < 3; c++) {
                for (int i = 0; i < 4; i++) {
                    assertThat(layout.index(o, c, i)).isEqualTo(flat);
                    assertThat(layout.channelOf(flat)).isEqualTo(c);
                    flat++;
                }
            }
        }
    }

    @Test
    void perTensorIsOneChannel() {
        ChannelLayout layout = ChannelLayout.perTensor(6);
        assertThat(layout).isEqualTo(new ChannelLayout(1, 1, 6));
        assertThat(layout.perChannel()).isFalse();
        assertThat(ChannelLayout.of(new long[] {1, 6}, 0).perChannel()).as("one channel along axis 0 is the whole tensor").isFalse();
        assertThat(ChannelLayout.of(new long[] {6, 1}, 1).perChannel()).as("one channel with outer rows").isTrue();
        assertThat(ChannelLayout.of(new long[] {2, 3}, 0).perChannel()).isTrue();
    }

    @Test
    void refusesBadAxesAndSizes() {
        assertThatThrownBy(() -> ChannelLayout.of(new long[] {2, 3}, 2)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("rank 2");
        assertThatThrownBy(() -> new ChannelLayout(1, -1, 1)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new ChannelLayout(65536, 65536, 1)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("2^31 - 9");
        assertThat(ChannelLayout.of(new long[] {0, 3}, 0).elements()).as("an empty weight has a layout").isZero();
    }
}
