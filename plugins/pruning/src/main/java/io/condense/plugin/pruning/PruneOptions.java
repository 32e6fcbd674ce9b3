package io.condense.plugin.pruning;

import io.condense.plugin.pruning.channel.ChannelPruning;
import io.condense.sdk.sparsity.NmPattern;
import io.condense.sdk.technique.InvalidParametersException;
import io.condense.sdk.technique.ParameterProblem;
import io.condense.sdk.technique.Parameters;
import java.util.ArrayList;
import java.util.List;

/**
 * The prune step's parameters once the rules across them are checked: a pattern excludes an explicit sparsity
 * and an explicit global or sensitivity scope (a pattern prunes per layer whatever the default scope); sensitivity
 * sparsities lie in (0, 1).
 *
 * @param pattern the N:M pattern, or null for unstructured pruning to {@code sparsity}
 * @param sensitivityTable whether the sensitivity table is measured (always for scope=sensitivity)
 */
record PruneOptions(double sparsity, String scope, LayerPruner.Method method, NmPattern pattern, boolean sensitivityTable,
        double[] sensitivitySparsities, int calibrationSamples, int sensitivitySamples, boolean allowSparse, boolean sequential) {
    static final String METHOD = "method";
    static final String PATTERN = "pattern";
    static final String SENSITIVITY = "sensitivity";
    static final String SENSITIVITY_SPARSITIES = "sensitivity_sparsities";
    static final String CALIBRATION_SAMPLES = "calibration_samples";
    static final String SENSITIVITY_SAMPLES = "sensitivity_samples";
    static final String SEQUENTIAL = "sequential";

    /**
     * Every rule across the step's parameters that they break: the prune technique's {@code validate}, run at Submit.
     * Covers both structures: options of the other structure given explicitly are refused.
     */
    static List<ParameterProblem> problems(Parameters parameters) {
        List<ParameterProblem> problems = new ArrayList<>();
        if (ChannelPruning.requested(parameters)) {
            // options of unstructured pruning (scope, storage, and whatever else the technique offers) do not apply here
            for (String name : parameters.asMap().keySet()) {
                if (!ChannelPruning.CHANNEL_PARAMETERS.contains(name) && parameters.isExplicit(name)) {
                    problems.add(new ParameterProblem(name, parameters.getString(name), "applies only to structure=unstructured; "
                            + "channel pruning takes " + String.join(", ", ChannelPruning.CHANNEL_PARAMETERS) + ": drop " + name));
                }
            }
            String scopeProblem = ChannelPruning.scopeProblem(parameters);
            if (scopeProblem != null) {
                problems.add(new ParameterProblem(PruneTechnique.SCOPE, ChannelPruning.scope(parameters), scopeProblem));
            }
            return problems;
        }
        for (String channelOnly : List.of(ChannelPruning.CRITERION, ChannelPruning.CHANNEL_MULTIPLE)) {
            if (parameters.isExplicit(channelOnly)) {
                problems.add(new ParameterProblem(channelOnly, parameters.getString(channelOnly), "applies only to structure=channel"
                        + (channelOnly.equals(ChannelPruning.CRITERION)
                                ? "; unstructured pruning always removes the smallest-magnitude weights" : "")
                        + ": drop " + channelOnly + " or set structure=channel"));
            }
        }
        String scope = parameters.getString(PruneTechnique.SCOPE);
        String patternText = parameters.getString(PATTERN);
        if (!patternText.isBlank() && NmPattern.problem(patternText) == null) {
            NmPattern pattern = NmPattern.parse(patternText);
            if (!scope.equals("layer") && parameters.isExplicit(PruneTechnique.SCOPE)) {
                problems.add(new ParameterProblem(PruneTechnique.SCOPE, scope, "must be layer (or left out) with pattern=" + pattern
                        + ": every group of every layer keeps " + pattern.n() + " of " + pattern.m() + " weights, there is no "
                        + scope + " choice to make"));
            }
            // an N:M pattern is per layer by nature: the default scope (global) applies to unstructured sparsity only
            scope = "layer";
            if (parameters.isExplicit(PruneTechnique.SPARSITY)) {
                problems.add(new ParameterProblem(PruneTechnique.SPARSITY, parameters.getString(PruneTechnique.SPARSITY),
                        "excludes pattern: pattern=" + pattern + " fixes the sparsity of every pruned layer at "
                                + Math.round(100 * pattern.sparsity()) + "%; give one of pattern and sparsity"));
            }
        }
        boolean table = parameters.getBoolean(SENSITIVITY) || scope.equals("sensitivity");
        if (parameters.isExplicit(SEQUENTIAL) && !parameters.getString(METHOD).equals("sparsegpt")) {
            problems.add(new ParameterProblem(SEQUENTIAL, parameters.getString(SEQUENTIAL), "applies only to method=sparsegpt "
                    + "(how its layer inputs are gathered): drop sequential or set method=sparsegpt"));
        }
        if (parameters.getString(METHOD).equals("sparsegpt") && parameters.isExplicit(SEQUENTIAL) && !parameters.getBoolean(SEQUENTIAL)
                && (table || scope.equals("global"))) {
            // known here, before any model is read (on a model over 2 GiB, which takes the same path whatever sequential
            // says, OnePassSparseGpt refuses the same when the step runs)
            problems.add(new ParameterProblem(SEQUENTIAL, parameters.getString(SEQUENTIAL), "prunes one weight at a time from one "
                    + "calibration pass, and " + (table ? "the sensitivity analysis (scope=sensitivity or sensitivity=true) prunes "
                    + "and evaluates every layer of the whole model" : "scope=global (the default) first needs one magnitude "
                    + "threshold over all weights at once") + ": give scope=layer (the same sparsity in every layer) or a pattern "
                    + "such as 2:4, or drop sequential=false"));
        }
        if (table && parameters.getStringList(SENSITIVITY_SPARSITIES).isEmpty()) {
            problems.add(new ParameterProblem(SENSITIVITY_SPARSITIES, parameters.getString(SENSITIVITY_SPARSITIES),
                    "is empty: the sensitivity analysis needs at least one sparsity, for example 0.3,0.5,0.7,0.9"));
        }
        return problems;
    }

    /** What is wrong with one entry of {@code sensitivity_sparsities}, or null: the parameter's value check. */
    static String sensitivitySparsityProblem(String entry) {
        double value;
        try {
            value = Double.parseDouble(entry);
        } catch (NumberFormatException e) {
            value = Double.NaN;
        }
        return value > 0 && value < 1 ? null
                : "'" + entry + "' is not a sparsity: every sparsity must be a number in (0, 1), for example 0.3,0.5,0.7,0.9";
    }

    /** The options of unstructured pruning; the parameters passed {@link #problems} (the host ran validate), checked again here. */
    static PruneOptions of(Parameters parameters) {
        List<ParameterProblem> problems = problems(parameters);
        if (!problems.isEmpty()) {
            throw new InvalidParametersException(problems);
        }
        String patternText = parameters.getString(PATTERN);
        NmPattern pattern = patternText.isBlank() ? null : NmPattern.parse(patternText);
        // an N:M pattern is per layer by nature: the default scope (global) applies to unstructured sparsity only
        String scope = pattern != null ? "layer" : parameters.getString(PruneTechnique.SCOPE);
        double[] sensitivitySparsities = parameters.getStringList(SENSITIVITY_SPARSITIES).stream()
                .mapToDouble(Double::parseDouble).sorted().toArray();
        boolean table = parameters.getBoolean(SENSITIVITY) || scope.equals("sensitivity");
        return new PruneOptions(parameters.getDouble(PruneTechnique.SPARSITY), scope,
                LayerPruner.Method.fromParameter(parameters.getString(METHOD)), pattern, table,
                sensitivitySparsities, parameters.getInt(CALIBRATION_SAMPLES), parameters.getInt(SENSITIVITY_SAMPLES),
                parameters.getString(PruneTechnique.STORAGE).equals("auto"), parameters.getBoolean(SEQUENTIAL));
    }

    /** Whether the step needs more than the plain magnitude threshold (per layer or global) of the original technique. */
    boolean planned() {
        return method != LayerPruner.Method.MAGNITUDE || pattern != null || sensitivityTable;
    }
}
