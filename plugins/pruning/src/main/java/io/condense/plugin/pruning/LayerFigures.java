package io.condense.plugin.pruning;

import io.condense.sdk.model.LayerSelection;
import io.condense.sdk.model.WeightLayer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The per-layer figures every prune report gives besides the counts: shape before and after (the same for
 * unstructured and N:M pruning, which only zero weights), and the multiply-accumulates of the layers reading the
 * weight ({@link io.condense.sdk.stats.ModelStats} by shape inference): {@code macs} dense, {@code effective_macs}
 * those with a non-zero weight (what a sparse kernel would do).
 */
final class LayerFigures {
    private LayerFigures() {
    }

    static long macs(LayerSelection.Candidate candidate, Map<String, Long> macsByNode) {
        long macs = 0;
        for (WeightLayer layer : candidate.layers()) {
            macs += macsByNode.getOrDefault(layer.displayName(), 0L);
        }
        return macs;
    }

    static long effectiveMacs(long macs, long elements, long nonZeros) {
        return elements == 0 ? 0 : Math.round(macs * ((double) nonZeros / elements));
    }

    /** Adds shape_before, shape_after, parameters, macs and effective_macs to a layer's report entry. */
    static void add(Map<String, Object> layer, LayerSelection.Candidate candidate, Map<String, Long> macsByNode, long elements,
            long nonZeros) {
        List<Long> shape = shape(candidate.shape());
        long macs = macs(candidate, macsByNode);
        layer.put("shape_before", shape);
        layer.put("shape_after", shape);
        layer.put("parameters", elements);
        layer.put("macs", macs);
        layer.put("effective_macs", effectiveMacs(macs, elements, nonZeros));
    }

    static List<Long> shape(long[] shape) {
        List<Long> dims = new ArrayList<>(shape.length);
        for (long dim : shape) {
            dims.add(dim);
        }
        return dims;
    }
}
