package io.condense.server.search;

import static java.util.Objects.requireNonNull;

/**
 * One pipeline the search runs as an ordinary job.
 *
 * @param family the family it belongs to
 * @param knob its knob's value, NaN for a family without one
 * @param pipeline the pipeline text, as {@code condense compress --pipeline} takes it
 */
public record Candidate(String family, double knob, String pipeline) {
    public Candidate {
        requireNonNull(family, "family is null");
        requireNonNull(pipeline, "pipeline is null");
    }
}
