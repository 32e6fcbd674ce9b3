package io.condense.sdk.technique;

import static java.util.Objects.requireNonNull;

import io.condense.sdk.model.OnnxModel;

/** What a technique returns: the new model and its report. */
public record TechniqueResult(OnnxModel model, Report report) {
    public TechniqueResult {
        requireNonNull(model, "model is null");
        requireNonNull(report, "report is null");
    }
}
