package io.condense.server.plugin;

import static java.util.Objects.requireNonNull;

import io.condense.sdk.technique.Parameters;

/**
 * One step of a pipeline once it is checked: the technique that runs it and its parameters, validated against the
 * specs and the technique's own rules, defaults filled in. Made by {@link io.condense.server.api.PipelineValidator}
 * at Submit (and for a dry run), and made the same way again by the worker from the queued step, so a step runs
 * exactly what Submit accepted.
 *
 * @param number the step's number in the pipeline, from 1
 */
public record PipelineStage(int number, LoadedTechnique technique, Parameters parameters) {
    public PipelineStage {
        if (number < 1) {
            throw new IllegalArgumentException("step numbers start at 1, got " + number);
        }
        requireNonNull(technique, "technique is null");
        requireNonNull(parameters, "parameters is null");
    }
}
