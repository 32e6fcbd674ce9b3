package io.condense.sdk.data;

import static java.util.Objects.requireNonNull;

import java.util.Optional;

/**
 * Samples along the first dimension of {@code inputs}, with optional integer class labels (one per sample).
 * Feeds a model with one input; the evaluator reshapes each sample to the model's input shape when the
 * element counts agree (for example [N,28,28] uint8 to [1,1,28,28] float).
 */
public record Dataset(NdArray inputs, Optional<NdArray> labels) {
    public Dataset {
        requireNonNull(inputs, "inputs is null");
        labels = labels == null ? Optional.empty() : labels;
        if (inputs.shape().length == 0) {
            throw new IllegalArgumentException("inputs must have a sample dimension");
        }
        labels.ifPresent(l -> {
            if (l.shape().length == 0 || l.shape()[0] != inputs.shape()[0]) {
                throw new IllegalArgumentException("labels hold " + (l.shape().length == 0 ? 0 : l.shape()[0])
                        + " samples but inputs hold " + inputs.shape()[0]);
            }
        });
    }

    public static Dataset of(NdArray inputs) {
        return new Dataset(inputs, Optional.empty());
    }

    public static Dataset of(NdArray inputs, NdArray labels) {
        return new Dataset(inputs, Optional.of(labels));
    }

    public int size() {
        return Math.toIntExact(inputs.shape()[0]);
    }

    /** The first {@code count} samples (all of them when there are fewer). */
    public Dataset head(int count) {
        int n = Math.min(count, size());
        return new Dataset(inputs.slice(0, n), labels.map(l -> l.slice(0, n)));
    }
}
