package io.condense.sdk.eval;

import io.condense.sdk.data.Dataset;
import java.util.Optional;

/**
 * What to measure.
 *
 * @param data inputs (and maybe labels); empty means generated inputs
 * @param maxSamples at most this many samples from the data (or this many generated inputs)
 * @param latencyRuns runs per model for median latency, at least (an evaluator may run more of a fast model for a steadier
 *     median); 0 skips latency
 * @param seed seed for generated inputs
 */
public record EvaluationRequest(Optional<Dataset> data, int maxSamples, int latencyRuns, long seed) {
    public EvaluationRequest {
        data = data == null ? Optional.empty() : data;
        if (maxSamples <= 0) {
            throw new IllegalArgumentException("maxSamples must be positive: " + maxSamples);
        }
        if (latencyRuns < 0) {
            throw new IllegalArgumentException("latencyRuns must not be negative: " + latencyRuns);
        }
    }

    public static EvaluationRequest of(Dataset data, int maxSamples) {
        return new EvaluationRequest(Optional.of(data), maxSamples, 0, 42L);
    }

    public static EvaluationRequest generated(int samples) {
        return new EvaluationRequest(Optional.empty(), samples, 0, 42L);
    }

    public EvaluationRequest withLatencyRuns(int runs) {
        return new EvaluationRequest(data, maxSamples, runs, seed);
    }
}
