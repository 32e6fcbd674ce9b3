package io.condense.plugin.fake;

import io.condense.sdk.model.OnnxModel;

/** Uses the SDK only: passes the plugin boundary rules. */
public final class CleanTechnique {
    private CleanTechnique() {
    }

    public static int nodes(OnnxModel model) {
        return model.nodes().size();
    }
}
