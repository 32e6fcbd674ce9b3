package io.condense.server.search;

import static java.util.Objects.requireNonNull;

import java.util.Locale;
import java.util.Set;

/**
 * A kind of candidate: a pipeline with one knob (a sparsity, a rank ratio) that trades quality for the objective. The
 * search bisects the knob between {@code mild} and {@code aggressive} for the most aggressive value that still meets
 * the constraint. A family with {@code mild == aggressive} is a single candidate.
 *
 * @param name short name for the report
 * @param template the pipeline with {@code %s} where the knob goes (a plain pipeline for a single candidate)
 * @param mild the knob's value that loses least
 * @param aggressive the knob's value that compresses most
 * @param techniques the techniques the pipeline uses
 */
public record Family(String name, String template, double mild, double aggressive, Set<String> techniques) {

    public Family {
        requireNonNull(name, "name is null");
        requireNonNull(template, "template is null");
        techniques = Set.copyOf(techniques);
    }

    static Family single(String name, String pipeline, Set<String> techniques) {
        return new Family(name, pipeline, 0, 0, techniques);
    }

    boolean hasKnob() {
        return mild != aggressive;
    }

    Candidate at(double knob) {
        String pipeline = hasKnob() ? String.format(Locale.ROOT, template, String.format(Locale.ROOT, "%.3f", knob)) : template;
        return new Candidate(name, hasKnob() ? knob : Double.NaN, pipeline);
    }
}
