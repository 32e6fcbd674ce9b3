package io.condense.sdk.testkit;

import static java.util.Objects.requireNonNull;

import java.util.Map;

/**
 * Parameter values a technique must refuse, and the parameter its error must name. The values are laid over
 * the kit's {@link TechniqueCompatibilityKit#validParameters() valid parameters}, so a case names only what
 * it breaks.
 *
 * <p>A case must be refused by validation alone ({@code Parameters.resolve}: the specs, their value checks and the
 * technique's {@code validate}), as the server does at Submit before any model is read. Only a case made with
 * {@link #whenRun} (a value that is wrong for the model, such as a rank the matrix cannot have) may wait for {@code apply}.
 *
 * @param parameters the values that replace (or add to) the valid ones
 * @param parameterName the parameter the error message must name
 * @param needsModel whether the refusal depends on the model, so that only {@code apply} can find it
 */
public record InvalidParameterCase(Map<String, String> parameters, String parameterName, boolean needsModel) {
    public InvalidParameterCase(Map<String, String> parameters, String parameterName) {
        this(parameters, parameterName, false);
    }

    /** Values only the model shows to be wrong: refused by {@code apply} on the kit's reference model, not at Submit. */
    public static InvalidParameterCase whenRun(Map<String, String> parameters, String parameterName) {
        return new InvalidParameterCase(parameters, parameterName, true);
    }

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
        return parameters + " must be rejected naming '" + parameterName + "'" + (needsModel ? " when run" : " at validation");
    }
}
