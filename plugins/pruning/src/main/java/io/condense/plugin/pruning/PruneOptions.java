package io.condense.plugin.pruning;

import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.technique.Parameters;
import java.util.Arrays;
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
        double[] sensitivitySparsities, int calibrationSamples, int sensitivitySamples, boolean allowSparse) {
    static final String METHOD = "method";
    static final String PATTERN = "pattern";
    static final String SENSITIVITY = "sensitivity";
    static final String SENSITIVITY_SPARSITIES = "sensitivity_sparsities";
    static final String CALIBRATION_SAMPLES = "calibration_samples";
    static final String SENSITIVITY_SAMPLES = "sensitivity_samples";

    static PruneOptions of(Parameters parameters) {
        double sparsity = parameters.getDouble(PruneTechnique.SPARSITY);
        String scope = parameters.getString(PruneTechnique.SCOPE);
        NmPattern pattern = null;
        String patternText = parameters.getString(PATTERN);
        if (!patternText.isBlank()) {
            pattern = NmPattern.parse(patternText);
            if (!scope.equals("layer") && parameters.isExplicit(PruneTechnique.SCOPE)) {
                throw new CondenseException(ErrorCode.INVALID_PARAMETER, "parameter 'scope' must be layer (or left out) with "
                        + "pattern=" + pattern + ": every group of every layer keeps " + pattern.n() + " of " + pattern.m()
                        + " weights, there is no " + scope + " choice to make");
            }
            // an N:M pattern is per layer by nature: the default scope (global) applies to unstructured sparsity only
            scope = "layer";
            if (parameters.isExplicit(PruneTechnique.SPARSITY)) {
                throw new CondenseException(ErrorCode.INVALID_PARAMETER, "parameters 'pattern' and 'sparsity' exclude each other: "
                        + "pattern=" + pattern + " fixes the sparsity of every pruned layer at " + Math.round(100 * pattern.sparsity())
                        + "%; give one of them");
            }
        }
        List<String> listed = parameters.getStringList(SENSITIVITY_SPARSITIES);
        double[] sensitivitySparsities = new double[listed.size()];
        for (int i = 0; i < listed.size(); i++) {
            try {
                sensitivitySparsities[i] = Double.parseDouble(listed.get(i));
            } catch (NumberFormatException e) {
                sensitivitySparsities[i] = Double.NaN;
            }
            if (!(sensitivitySparsities[i] > 0 && sensitivitySparsities[i] < 1)) {
                throw new CondenseException(ErrorCode.INVALID_PARAMETER, "Invalid value '" + listed.get(i) + "' in parameter '"
                        + SENSITIVITY_SPARSITIES + "': every sparsity must be a number in (0, 1), for example 0.3,0.5,0.7,0.9");
            }
        }
        Arrays.sort(sensitivitySparsities);
        boolean table = parameters.getBoolean(SENSITIVITY) || scope.equals("sensitivity");
        if (table && sensitivitySparsities.length == 0) {
            throw new CondenseException(ErrorCode.INVALID_PARAMETER, "parameter '" + SENSITIVITY_SPARSITIES
                    + "' is empty: the sensitivity analysis needs at least one sparsity, for example 0.3,0.5,0.7,0.9");
        }
        return new PruneOptions(sparsity, scope, LayerPruner.Method.fromParameter(parameters.getString(METHOD)), pattern, table,
                sensitivitySparsities, parameters.getInt(CALIBRATION_SAMPLES), parameters.getInt(SENSITIVITY_SAMPLES),
                parameters.getString(PruneTechnique.STORAGE).equals("auto"));
    }

    /** Whether the step needs more than the plain magnitude threshold (per layer or global) of the original technique. */
    boolean planned() {
        return method != LayerPruner.Method.MAGNITUDE || pattern != null || sensitivityTable;
    }
}
