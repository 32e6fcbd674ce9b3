package io.condense.sdk.training;

import static java.util.Objects.requireNonNull;

import io.condense.sdk.model.OnnxModel;
import java.util.List;

/**
 * What a training run produced.
 *
 * @param model the request's model with its trained initializers (and batch-normalization running statistics)
 *     replaced, same names and element types; the graph is unchanged
 * @param history one summary per epoch
 * @param trainedInitializers the names of the initializers that were trained
 */
public record TrainingResult(OnnxModel model, List<EpochSummary> history, List<String> trainedInitializers) {
    public TrainingResult {
        requireNonNull(model, "model is null");
        history = List.copyOf(history);
        trainedInitializers = List.copyOf(trainedInitializers);
    }

    /** The last epoch. */
    public EpochSummary lastEpoch() {
        return history.get(history.size() - 1);
    }
}
