package io.condense.sdk.eval;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.OptionalDouble;

/**
 * What a comparison measured. Accuracy is present only when labels were given; latency only when asked.
 * Accuracy and top-1 agreement use the first output (argmax over its last axis, every row); SQNR and
 * cosine similarity compare all outputs. SQNR is {@code +Infinity} when the outputs are identical.
 */
public record EvaluationResult(
        int samples,
        OptionalDouble accuracyBefore,
        OptionalDouble accuracyAfter,
        double top1Agreement,
        double sqnrDb,
        double cosineSimilarity,
        OptionalDouble latencyMsBefore,
        OptionalDouble latencyMsAfter) {

    /** The measured values with report names ({@code accuracy_before}, {@code top1_agreement}, ...). */
    public Map<String, Object> toMap() {
        Map<String, Object> map = new LinkedHashMap<>();
        map.put("samples", samples);
        accuracyBefore.ifPresent(v -> map.put("accuracy_before", v));
        accuracyAfter.ifPresent(v -> map.put("accuracy_after", v));
        map.put("top1_agreement", top1Agreement);
        map.put("sqnr_db", sqnrDb);
        map.put("cosine_similarity", cosineSimilarity);
        latencyMsBefore.ifPresent(v -> map.put("latency_ms_before", v));
        latencyMsAfter.ifPresent(v -> map.put("latency_ms_after", v));
        return map;
    }
}
