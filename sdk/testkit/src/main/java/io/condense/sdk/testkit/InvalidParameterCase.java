package io.condense.sdk.testkit;

import static java.util.Objects.requireNonNull;

import java.util.Map;

/**
 * Parameter values a technique must refuse, and the parameter its error must name. The values are laid over
 * the kit's {@link TechniqueCompatibilityKit#validParameters() valid parameters}, so a case names only what
 * it breaks.
 *
 * @param parameters the values that replace (or add to) the valid ones
 * @param parameterName the parameter the error message must name
 */
public record InvalidParameterCase(Map<String, String> parameters, String parameterName) {
    public InvalidParameterCase {
        parameters = Map.copyOf(requireNonNull(parameters, "parameters is null"));
        requireNonNull(parameterName, "parameterName is null");
        if (parameters.isEmpty()) {
            throw new IllegalArgumentException("an invalid parameter case needs at least one value");
        }
    }

    /** One bad value for one parameter, for example {@code of("sparsity", "1.5")}. */
    public static InvalidParameterCase of(String parameterName, String value) {
        requireNonNull(parameterName, "parameterName is null");
        requireNonNull(value, "value is null");
        return new InvalidParameterCase(Map.of(parameterName, value), parameterName);
    }

    @Override
    public String toString() {
        return parameters + " must be rejected naming '" + parameterName + "'";
    }
}
