package io.condense.plugin.pruning.channel;

import static io.condense.plugin.pruning.channel.ChannelPruningTest.assertSameOutputs;
import static io.condense.plugin.pruning.channel.ChannelPruningTest.channel;
import static io.condense.plugin.pruning.channel.ChannelPruningTest.prune;
import static io.condense.plugin.pruning.channel.ChannelPruningTest.shape;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.model.channel.ChannelCriterion;
import io.condense.sdk.model.channel.ChannelPruner;
import io.condense.sdk.technique.TechniqueResult;
import org.junit.jupiter.api.Test;

/**
 * ConvTranspose in channel pruning: its weight is [C_in, C_out, k, k], so it reads the channels it is given along weight
 * axis 0 and its own output channels lie along axis 1 (and its bias). A grouped one blocks, naming itself.
 */
class ConvTransposeChannelPruningTest {
    /** x -> Conv a (8) -> Relu -> ConvTranspose up (8 -> 6, stride 2) [group] -> Relu -> Conv b (4) -> y. */
    private static OnnxModel decoder(long group) {
        SyntheticGraph graph = new SyntheticGraph().input("x", 1, 3, 8, 8).output("y", 1, 4, 16, 16);
        graph.conv("a", "x", "a_out", 3, 8, 1).node("Relu", "relu", new String[] {"a_out"}, "r");
        graph.random("up.weight", 8, 6 / group, 4, 4);
        graph.random("up.bias", 6);
        return graph.node("ConvTranspose", "up", new String[] {"r", "up.weight", "up.bias"}, "u", "kernel_shape", new long[] {4, 4},
                "strides", new long[] {2, 2}, "pads", new long[] {1, 1, 1, 1}, "group", group)
                .node("Relu", "relu2", new String[] {"u"}, "r2").conv("b", "r2", "y", 6, 4, 1).build();
    }

    @Test
    void convTransposeIsSlicedOnBothSidesAndComputesWhatTheMaskedOriginalComputes() {
        OnnxModel original = decoder(1);
        TechniqueResult result = prune(original, channel("0.5", "min_elements", "0", "channel_multiple", "1"));
        OnnxModel pruned = result.model();
        long kept = shape(pruned, "a.weight")[0];
        long keptUp = shape(pruned, "up.weight")[1];
        assertThat(kept).isLessThan(8);
        assertThat(keptUp).isLessThan(6);
        assertThat(shape(pruned, "up.weight")).containsExactly(kept, keptUp, 4, 4);
        assertThat(shape(pruned, "up.bias")).containsExactly(keptUp);
        assertThat(shape(pruned, "b.weight")).containsExactly(4, keptUp, 3, 3);
        OnnxModel masked = ChannelPruner.masked(original, new ChannelPruner.Request(0.5, ChannelCriterion.fromParameter("l1"), 1,
                java.util.List.of(), 0), io.condense.sdk.testkit.TestStepContext.builder().build());
        assertSameOutputs(masked, pruned, "x", new long[] {1, 3, 8, 8}, 1e-4);
    }

    @Test
    void aGroupedConvTransposeKeepsItsChannelsAndSaysWhy() {
        // a's channels feed the grouped layer and up's reach it, so nothing is left to prune: refused, naming it
        CondenseException error = catchThrowableOfType(CondenseException.class,
                () -> prune(decoder(2), channel("0.5", "min_elements", "0", "channel_multiple", "1")));
        assertThat(error.code()).isEqualTo(ErrorCode.NOTHING_TO_COMPRESS);
        assertThat(error.getMessage()).contains("ConvTranspose 'up' is a grouped transposed convolution (group=2)");
    }
}
