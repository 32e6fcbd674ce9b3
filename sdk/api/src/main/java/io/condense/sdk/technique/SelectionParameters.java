package io.condense.sdk.technique;

import static java.util.Objects.requireNonNull;

import io.condense.sdk.model.LayerSelection;
import java.util.List;

/**
 * The {@code exclude} and {@code min_elements} parameters of techniques that choose weight layers with a
 * {@link LayerSelection}: their specs (the pattern syntax documented once) and the selection built from them.
 *
 * <pre>{@code
 * List.of(..., SelectionParameters.exclude("Layers to leave in float"),
 *         SelectionParameters.minElements(0, "Layers whose weight has fewer elements stay float (default 0)."))
 * ...
 * LayerSelection selection = SelectionParameters.layerSelection(parameters, problems);
 * }</pre>
 */
public final class SelectionParameters {
    public static final String EXCLUDE = "exclude";
    public static final String MIN_ELEMENTS = "min_elements";
    /** How exclude patterns are written and matched, as the parameter documentation says it. */
    public static final String PATTERN_SYNTAX = "comma-separated globs (* any characters, ? one character) matched against the "
            + "whole node name, the node's first output and the weight's initializer name; prefix a pattern with regex: for a "
            + "Java regular expression.";

    private SelectionParameters() {
    }

    /**
     * The {@code exclude} parameter (a string list, empty by default), documented as {@code purpose + ": " + PATTERN_SYNTAX}.
     *
     * @param purpose what happens to the excluded layers, for example {@code Layers to leave in float}
     */
    public static ParameterSpec exclude(String purpose) {
        requireNonNull(purpose, "purpose is null");
        return ParameterSpec.stringListParameter(EXCLUDE, "", purpose + ": " + PATTERN_SYNTAX)
                .withCheck(ValueCheck.eachItem(LayerSelection::problem));
    }

    /** The {@code min_elements} parameter (an integer of at least 0); techniques differ in default and in why. */
    public static ParameterSpec minElements(long defaultValue, String documentation) {
        requireNonNull(documentation, "documentation is null");
        return ParameterSpec.integerParameter(MIN_ELEMENTS, defaultValue, Range.atLeast(0), documentation);
    }

    /** The {@code exclude} patterns, with a problem added to {@code problems} for every one that cannot be used. */
    public static List<String> excludePatterns(Parameters parameters, List<ParameterProblem> problems) {
        requireNonNull(parameters, "parameters is null");
        requireNonNull(problems, "problems is null");
        List<String> patterns = parameters.getStringList(EXCLUDE);
        for (String pattern : patterns) {
            String problem = LayerSelection.problem(pattern);
            if (problem != null) {
                problems.add(new ParameterProblem(EXCLUDE, parameters.getString(EXCLUDE), problem));
            }
        }
        return patterns;
    }

    /**
     * The selection {@code exclude} and {@code min_elements} describe.
     *
     * @param problems the technique's own parameter problems so far (may be empty); the exclude problems are added after them
     * @throws InvalidParametersException with every problem at once, when there is any
     */
    public static LayerSelection layerSelection(Parameters parameters, List<ParameterProblem> problems) {
        List<String> patterns = excludePatterns(parameters, problems);
        if (!problems.isEmpty()) {
            throw new InvalidParametersException(problems);
        }
        return new LayerSelection(patterns, parameters.getLong(MIN_ELEMENTS));
    }
}
