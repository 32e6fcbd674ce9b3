package io.condense.server.search;

import static java.util.Objects.requireNonNull;

import java.util.Locale;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

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
    private static final Pattern EPOCHS = Pattern.compile("\\bepochs=(\\d+)");

    public Family {
        requireNonNull(name, "name is null");
        requireNonNull(template, "template is null");
        techniques = Set.copyOf(techniques);
    }

    static Family single(String name, String pipeline, Set<String> techniques) {
        return new Family(name, pipeline, 0, 0, techniques);
    }

    /** Whether its candidates fine-tune: then longer training can buy back what they lose. */
    boolean trains() {
        return template.contains("finetune(");
    }

    /** The same family with every fine-tuning stage's {@code epochs} multiplied by {@code factor}. */
    Family trainedLonger(int factor) {
        if (factor < 1) {
            throw new IllegalArgumentException("factor must be at least 1, got " + factor);
        }
        Matcher epochs = EPOCHS.matcher(template);
        StringBuilder longer = new StringBuilder();
        while (epochs.find()) {
            epochs.appendReplacement(longer, "epochs=" + Integer.parseInt(epochs.group(1)) * factor);
        }
        epochs.appendTail(longer);
        return new Family(name, longer.toString(), mild, aggressive, techniques);
    }

    boolean hasKnob() {
        return mild != aggressive;
    }

    Candidate at(double knob) {
        String pipeline = hasKnob() ? String.format(Locale.ROOT, template, String.format(Locale.ROOT, "%.3f", knob)) : template;
        return new Candidate(name, hasKnob() ? knob : Double.NaN, pipeline);
    }
}
