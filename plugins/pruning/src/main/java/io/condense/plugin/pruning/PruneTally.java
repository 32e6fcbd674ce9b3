package io.condense.plugin.pruning;

import io.condense.sdk.model.LayerSelection;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.technique.Report;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What every unstructured pruning path reports: one entry per written weight and the totals over them (parameters,
 * non-zeros, stored bytes, MACs), shared by the magnitude path of {@link PruneTechnique} and {@link PlannedPruning}.
 */
final class PruneTally {
    private final Map<String, Long> macsByNode;
    private final List<Map<String, Object>> layers = new ArrayList<>();
    private long parameters;
    private long nonZeros;
    private long storedBefore;
    private long storedAfter;
    private long macs;
    private long effectiveMacs;
    private int sparseLayers;

    PruneTally(Map<String, Long> macsByNode) {
        this.macsByNode = macsByNode;
    }

    /**
     * Accounts one pruned weight of {@code elements} weights, {@code kept} of them non-zero, written sparse or dense, and
     * records its report entry; {@code extra} entries (the layer's target) go right after its sparsity.
     */
    void add(LayerSelection.Candidate candidate, int elements, int kept, boolean sparse, Map<String, Object> extra) {
        long bytes = sparse ? WeightEncoding.sparseBytes(kept) : WeightEncoding.denseBytes(elements);
        if (sparse) {
            sparseLayers++;
        }
        parameters += elements;
        nonZeros += kept;
        storedBefore += WeightEncoding.denseBytes(elements);
        storedAfter += bytes;

        Map<String, Object> layer = new LinkedHashMap<>();
        layer.put("name", candidate.layerNames());
        layer.put("op", candidate.opTypes());
        layer.put("weight", candidate.weightName());
        layer.put("shape", LayerFigures.shape(candidate.shape()));
        layer.put("elements", elements);
        layer.put("non_zeros", kept);
        layer.put("sparsity", elements == 0 ? 0.0 : 1.0 - (double) kept / elements);
        layer.putAll(extra);
        layer.put("stored", sparse ? "sparse" : "dense");
        layer.put("bytes", bytes);
        LayerFigures.add(layer, candidate, macsByNode, elements, kept);
        macs += (long) layer.get("macs");
        effectiveMacs += (long) layer.get("effective_macs");
        layers.add(layer);
    }

    /** The totals, from {@code sparsity} to {@code effective_macs}, for {@code model} pruned into {@code pruned}. */
    void putTotals(Report.Builder report, OnnxModel model, OnnxModel pruned, int skipped) {
        report.put("sparsity", parameters == 0 ? 0.0 : 1.0 - (double) nonZeros / parameters)
                .put("parameters", parameters)
                .put("non_zeros", nonZeros)
                .put("layers_pruned", layers.size())
                .put("layers_skipped", skipped)
                .put("layers_sparse", sparseLayers)
                .put("weight_bytes_before", storedBefore)
                .put("weight_bytes_after", storedAfter)
                .put("model_bytes_before", model.serializedSize())
                .put("model_bytes_after", pruned.serializedSize())
                .put("macs", macs)
                .put("effective_macs", effectiveMacs);
    }

    /** The per-weight entries, in the order they were added. */
    void addLayers(Report.Builder report) {
        for (Map<String, Object> layer : layers) {
            report.addLayer(layer);
        }
    }
}
