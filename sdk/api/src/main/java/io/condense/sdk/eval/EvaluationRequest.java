package io.condense.sdk.eval;

import io.condense.sdk.data.Dataset;
import java.util.Optional;

/**
 * What to measure.
 *
 * @param data inputs (and maybe labels); empty means generated inputs
 * @param maxSamples at most this many samples from the data (or this many generated inputs)
 * @param latencyRuns runs per model for median latency, at least; 0 skips latency
 * @param seed seed for generated inputs
 * @param latencyMillis the least time to spend timing: more interleaved runs than {@code latencyRuns} until the timed runs
 *     have taken this long (an evaluator caps the runs); 0: exactly {@code latencyRuns}. A search that ranks candidates by
 *     latency asks for it, since ten runs of a model of a few milliseconds give a median that a busy machine moves by 10%
 */
public record EvaluationRequest(Optional<Dataset> data, int maxSamples, int latencyRuns, long seed, int latencyMillis) {
    public EvaluationRequest {
        data = data == null ? Optional.empty() : data;
        if (maxSamples <= 0) {
            throw new IllegalArgumentException("maxSamples must be positive: " + maxSamples);
        }
        if (latencyRuns < 0) {
            throw new IllegalArgumentException("latencyRuns must not be negative: " + latencyRuns);
        }
        if (latencyMillis < 0) {
            throw new IllegalArgumentException("latencyMillis must not be negative: " + latencyMillis);
        }
    }

    /** Timing exactly {@code latencyRuns} runs of each model. */
    public EvaluationRequest(Optional<Dataset> data, int maxSamples, int latencyRuns, long seed) {
        this(data, maxSamples, latencyRuns, seed, 0);
    }

    public static EvaluationRequest of(Dataset data, int maxSamples) {
        return new EvaluationRequest(Optional.of(data), maxSamples, 0, 42L);
    }

    public static EvaluationRequest generated(int samples) {
        return new EvaluationRequest(Optional.empty(), samples, 0, 42L);
    }

    public EvaluationRequest withLatencyRuns(int runs) {
        return new EvaluationRequest(data, maxSamples, runs, seed, latencyMillis);
    }

    public EvaluationRequest withLatencyMillis(int millis) {
        return new EvaluationRequest(data, maxSamples, latencyRuns, seed, millis);
    }
}
