package io.condense.sdk.eval;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.OptionalDouble;
import java.util.OptionalLong;

/**
 * What a comparison measured. Accuracy is present only when labels were given; latency only when asked.
 * Accuracy and top-1 agreement use the first output (argmax over its last axis, every row); SQNR and
 * cosine similarity compare all outputs. SQNR is {@code +Infinity} when the outputs are identical.
 *
 * <p>With labels, the two discordant counts of the paired comparison are there too: {@code samplesLost}, the samples the
 * original classifies right and the candidate wrong, and {@code samplesGained}, the reverse. The accuracy drop is
 * {@code (samplesLost - samplesGained) / samples}, and its standard error follows from the two counts (McNemar), which the
 * two accuracies alone do not give.
 */
public record EvaluationResult(
        int samples,
        OptionalDouble accuracyBefore,
        OptionalDouble accuracyAfter,
        double top1Agreement,
        double sqnrDb,
        double cosineSimilarity,
        OptionalDouble latencyMsBefore,
        OptionalDouble latencyMsAfter,
        OptionalLong samplesLost,
        OptionalLong samplesGained) {

    /** A result without the discordant counts (no labels, or an evaluator that does not pair the samples). */
    public EvaluationResult(int samples, OptionalDouble accuracyBefore, OptionalDouble accuracyAfter, double top1Agreement, double sqnrDb,
            double cosineSimilarity, OptionalDouble latencyMsBefore, OptionalDouble latencyMsAfter) {
        this(samples, accuracyBefore, accuracyAfter, top1Agreement, sqnrDb, cosineSimilarity, latencyMsBefore, latencyMsAfter,
                OptionalLong.empty(), OptionalLong.empty());
    }

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
        samplesLost.ifPresent(v -> map.put("samples_lost", v));
        samplesGained.ifPresent(v -> map.put("samples_gained", v));
        return map;
    }
}
