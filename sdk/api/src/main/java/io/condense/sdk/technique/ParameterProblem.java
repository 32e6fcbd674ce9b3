package io.condense.sdk.technique;

import static java.util.Objects.requireNonNull;

/** One thing wrong with one parameter value: which parameter, the value given, and the rule it breaks. */
public record ParameterProblem(String parameter, String value, String rule) {

    public ParameterProblem {
        requireNonNull(parameter, "parameter is null");
        requireNonNull(rule, "rule is null");
    }

    /** For example {@code Invalid value 1.5 for parameter 'sparsity': must be a number in [0, 1)}. */
    public String message() {
        if (value == null) {
            return "Missing parameter '" + parameter + "': " + rule;
        }
        return "Invalid value " + value + " for parameter '" + parameter + "': " + rule;
    }

    /** The same message, placed in a pipeline: {@code ... for parameter 'sparsity' of step 1 (prune): ...}. */
    public String message(int stepNumber, String techniqueId) {
        String where = "parameter '" + parameter + "' of step " + stepNumber + " (" + techniqueId + ")";
        if (value == null) {
            return "Missing " + where + ": " + rule;
        }
        return "Invalid value " + value + " for " + where + ": " + rule;
    }
}
