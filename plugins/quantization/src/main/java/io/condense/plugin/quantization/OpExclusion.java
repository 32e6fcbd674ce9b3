package io.condense.plugin.quantization;

import io.condense.sdk.model.LayerSelection;
import io.condense.sdk.model.WeightLayer;
import java.util.ArrayList;
import java.util.List;

/** The {@code exclude_ops} rule: a weight stays float when any layer reading it is of an excluded op type. */
final class OpExclusion {
    private OpExclusion() {
    }

    static List<LayerSelection.Candidate> filter(List<LayerSelection.Candidate> candidates, List<String> ops) {
        if (ops.isEmpty()) {
            return candidates;
        }
        List<LayerSelection.Candidate> kept = new ArrayList<>();
        for (LayerSelection.Candidate candidate : candidates) {
            if (excludedOp(candidate, ops) == null) {
                kept.add(candidate);
            }
        }
        return kept;
    }

    static List<LayerSelection.Skipped> skipped(List<LayerSelection.Candidate> candidates, List<String> ops) {
        List<LayerSelection.Skipped> skipped = new ArrayList<>();
        for (LayerSelection.Candidate candidate : candidates) {
            String op = excludedOp(candidate, ops);
            if (op != null) {
                skipped.add(LayerSelection.Skipped.of(candidate, "op type " + op + " is in exclude_ops"));
            }
        }
        return skipped;
    }

    private static String excludedOp(LayerSelection.Candidate candidate, List<String> ops) {
        for (WeightLayer layer : candidate.layers()) {
            if (ops.contains(layer.opType())) {
                return layer.opType();
            }
        }
        return null;
    }
}
