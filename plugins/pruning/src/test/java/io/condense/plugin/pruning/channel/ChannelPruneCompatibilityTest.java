package io.condense.plugin.pruning.channel;

import io.condense.plugin.pruning.PruneTechnique;
import io.condense.sdk.technique.Technique;
import io.condense.sdk.testkit.InvalidParameterCase;
import io.condense.sdk.testkit.TechniqueCompatibilityKit;
import java.util.List;
import java.util.Map;

/** The compatibility kit for {@code prune(structure=channel)} on mnist8, pytorch_cnn_mnist and UltraFace RFB-320. */
class ChannelPruneCompatibilityTest extends TechniqueCompatibilityKit {

    @Override
    protected Technique technique() {
        return new PruneTechnique();
    }

    @Override
    protected Map<String, String> validParameters() {
        return Map.of("structure", "channel", "sparsity", "0.5", "criterion", "l2");
    }

    @Override
    protected List<InvalidParameterCase> invalidParameterCases() {
        return List.of(
                InvalidParameterCase.of("structure", "filters"),
                InvalidParameterCase.of("criterion", "median"),
                InvalidParameterCase.of("sparsity", "1.0"),
                InvalidParameterCase.of("scope", "global"),
                InvalidParameterCase.of("storage", "dense"),
                InvalidParameterCase.of("channel_multiple", "0"),
                InvalidParameterCase.of("exclude", "regex:conv(1"));
    }
}
