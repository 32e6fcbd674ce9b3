package io.condense.sdk.technique;

import static java.util.Objects.requireNonNull;

import java.util.List;

/**
 * One parameter of a technique, declared once as data: name, type, default, valid range or choices,
 * and documentation. A {@code null} default makes the parameter required.
 */
public record ParameterSpec(
        String name,
        ParameterType type,
        String defaultValue,
        Range range,
        List<String> choices,
        String documentation,
        ValueCheck check,
        boolean acceptsUpload) {

    public ParameterSpec {
        requireNonNull(name, "name is null");
        requireNonNull(type, "type is null");
        requireNonNull(documentation, "documentation is null");
        choices = choices == null ? List.of() : List.copyOf(choices);
        if (type == ParameterType.CHOICE && choices.isEmpty()) {
            throw new IllegalArgumentException("choice parameter '" + name + "' needs choices");
        }
        if (range != null && type != ParameterType.INTEGER && type != ParameterType.DOUBLE) {
            throw new IllegalArgumentException("range given for non-numeric parameter '" + name + "'");
        }
    }

    /** A parameter whose values need no rule beyond their type, range or choices. */
    public ParameterSpec(String name, ParameterType type, String defaultValue, Range range, List<String> choices, String documentation) {
        this(name, type, defaultValue, range, choices, documentation, null, false);
    }

    /**
     * This parameter, declared as taking the id of a blob the client uploaded (a model, a file): clients may write
     * {@code @FILE} for its value and upload the file in its place ({@code distill(student=@small.onnx)}). Only such
     * parameters take {@code @FILE}; elsewhere an {@code @} is plain text.
     */
    public ParameterSpec acceptingUpload() {
        if (type != ParameterType.STRING) {
            throw new IllegalArgumentException("parameter '" + name + "' is " + type + "; only text parameters take an uploaded blob's id");
        }
        return new ParameterSpec(name, type, defaultValue, range, choices, documentation, check, true);
    }

    /**
     * This parameter with a rule its (trimmed, type-valid) values must also follow; checked at Submit with every other
     * rule. A default value must pass it too.
     */
    public ParameterSpec withCheck(ValueCheck valueCheck) {
        requireNonNull(valueCheck, "valueCheck is null");
        if (defaultValue != null && !defaultValue.isBlank() && valueCheck.problem(defaultValue.trim()) != null) {
            throw new IllegalArgumentException("the default of parameter '" + name + "' breaks its own check: "
                    + valueCheck.problem(defaultValue.trim()));
        }
        return new ParameterSpec(name, type, defaultValue, range, choices, documentation, valueCheck, acceptsUpload);
    }

    public static ParameterSpec doubleParameter(String name, double defaultValue, Range range, String documentation) {
        return new ParameterSpec(name, ParameterType.DOUBLE, Double.toString(defaultValue), range, List.of(), documentation);
    }

    public static ParameterSpec integerParameter(String name, long defaultValue, Range range, String documentation) {
        return new ParameterSpec(name, ParameterType.INTEGER, Long.toString(defaultValue), range, List.of(), documentation);
    }

    public static ParameterSpec booleanParameter(String name, boolean defaultValue, String documentation) {
        return new ParameterSpec(name, ParameterType.BOOLEAN, Boolean.toString(defaultValue), null, List.of(), documentation);
    }

    public static ParameterSpec choiceParameter(String name, String defaultValue, List<String> choices, String documentation) {
        return new ParameterSpec(name, ParameterType.CHOICE, defaultValue, null, choices, documentation);
    }

    public static ParameterSpec stringParameter(String name, String defaultValue, String documentation) {
        return new ParameterSpec(name, ParameterType.STRING, defaultValue, null, List.of(), documentation);
    }

    public static ParameterSpec stringListParameter(String name, String defaultValue, String documentation) {
        return new ParameterSpec(name, ParameterType.STRING_LIST, defaultValue, null, List.of(), documentation);
    }

    public boolean required() {
        return defaultValue == null;
    }

    /** The rule a value must follow, in words, for error messages and listings. */
    public String rule() {
        return switch (type) {
            case INTEGER -> "must be an integer" + (range == null ? "" : " in " + range);
            case DOUBLE -> "must be a number" + (range == null ? "" : " in " + range);
            case BOOLEAN -> "must be true or false";
            case CHOICE -> "must be one of " + String.join(", ", choices);
            case STRING -> "must be text";
            case STRING_LIST -> "must be a comma-separated list";
        };
    }
}
