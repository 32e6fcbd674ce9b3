package io.condense.sdk.technique;

import static java.util.Objects.requireNonNull;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeSet;

/**
 * Parameter values checked against their specs, with defaults filled in. Built only by
 * {@link #validate(List, Map)}, so a technique can read typed values without checking them again.
 */
public final class Parameters {
    private final Map<String, String> values;
    private final Map<String, ParameterSpec> specs;
    private final java.util.Set<String> explicit;

    private Parameters(Map<String, String> values, Map<String, ParameterSpec> specs, java.util.Set<String> explicit) {
        this.values = values;
        this.specs = specs;
        this.explicit = explicit;
    }

    /**
     * Checks every given value against the specs and returns all problems at once: unknown names,
     * missing required values, unparseable values, values out of range or not among the choices.
     */
    public static List<ParameterProblem> check(List<ParameterSpec> specs, Map<String, String> given) {
        requireNonNull(specs, "specs is null");
        requireNonNull(given, "given is null");
        Map<String, ParameterSpec> byName = index(specs);
        List<ParameterProblem> problems = new ArrayList<>();
        for (Map.Entry<String, String> entry : given.entrySet()) {
            if (!byName.containsKey(entry.getKey())) {
                problems.add(new ParameterProblem(entry.getKey(), entry.getValue(),
                        byName.isEmpty() ? "this technique takes no parameters"
                                : "unknown parameter; known parameters are " + String.join(", ", new TreeSet<>(byName.keySet()))));
            }
        }
        for (ParameterSpec spec : specs) {
            String value = given.get(spec.name());
            if (value == null) {
                if (spec.required()) {
                    problems.add(new ParameterProblem(spec.name(), null, spec.rule()));
                }
                continue;
            }
            if (!valid(spec, value.trim())) {
                problems.add(new ParameterProblem(spec.name(), value, spec.rule()));
            } else if (spec.check() != null && !value.isBlank()) {
                String problem = spec.check().problem(value.trim());
                if (problem != null) {
                    problems.add(new ParameterProblem(spec.name(), value, problem));
                }
            }
        }
        return problems;
    }

    /** Like {@link #check} but throws {@link InvalidParametersException} with every problem, or returns the typed values. */
    public static Parameters validate(List<ParameterSpec> specs, Map<String, String> given) {
        List<ParameterProblem> problems = check(specs, given);
        if (!problems.isEmpty()) {
            throw new InvalidParametersException(problems);
        }
        Map<String, String> values = new LinkedHashMap<>();
        java.util.Set<String> explicit = new java.util.LinkedHashSet<>();
        for (ParameterSpec spec : specs) {
            String value = given.get(spec.name());
            if (value != null) {
                values.put(spec.name(), value.trim());
                explicit.add(spec.name());
            } else if (spec.defaultValue() != null) {
                values.put(spec.name(), spec.defaultValue());
            }
        }
        return new Parameters(Collections.unmodifiableMap(values), index(specs), Collections.unmodifiableSet(explicit));
    }

    /**
     * The values checked against the technique's specs and then against its own rules across parameters
     * ({@link Technique#validate}): the one validation a pipeline step gets, at Submit and again on the worker.
     *
     * @throws InvalidParametersException with every problem found: the specs' problems, or when there are none, the
     *     technique's
     */
    public static Parameters resolve(Technique technique, Map<String, String> given) {
        requireNonNull(technique, "technique is null");
        Parameters parameters = validate(technique.descriptor().parameters(), given);
        List<ParameterProblem> problems = technique.validate(parameters);
        if (problems != null && !problems.isEmpty()) {
            throw new InvalidParametersException(problems);
        }
        return parameters;
    }

    private static Map<String, ParameterSpec> index(List<ParameterSpec> specs) {
        Map<String, ParameterSpec> byName = new LinkedHashMap<>();
        for (ParameterSpec spec : specs) {
            if (byName.put(spec.name(), spec) != null) {
                throw new IllegalArgumentException("parameter '" + spec.name() + "' declared twice");
            }
        }
        return byName;
    }

    private static boolean valid(ParameterSpec spec, String value) {
        switch (spec.type()) {
            case INTEGER -> {
                try {
                    long parsed = Long.parseLong(value);
                    return spec.range() == null || spec.range().contains(parsed);
                } catch (NumberFormatException e) {
                    return false;
                }
            }
            case DOUBLE -> {
                try {
                    double parsed = Double.parseDouble(value);
                    return !Double.isNaN(parsed) && (spec.range() == null || spec.range().contains(parsed));
                } catch (NumberFormatException e) {
                    return false;
                }
            }
            case BOOLEAN -> {
                String lower = value.toLowerCase(Locale.ROOT);
                return lower.equals("true") || lower.equals("false");
            }
            case CHOICE -> {
                return spec.choices().contains(value);
            }
            case STRING, STRING_LIST -> {
                return true;
            }
            default -> throw new AssertionError(spec.type());
        }
    }

    /** The checked values with defaults filled in, as text, in declaration order. */
    public Map<String, String> asMap() {
        return values;
    }

    /** True when the parameter has a value, given by the user or by its default. */
    public boolean isSet(String name) {
        return values.containsKey(name);
    }

    /**
     * True only when the user gave this parameter, not when its default filled it in: lets a technique
     * refuse an option that does not apply to the mode chosen instead of silently ignoring it.
     */
    public boolean isExplicit(String name) {
        if (!specs.containsKey(name)) {
            throw new IllegalArgumentException("no parameter '" + name + "' is declared");
        }
        return explicit.contains(name);
    }

    public String getString(String name) {
        return require(name);
    }

    public double getDouble(String name) {
        return Double.parseDouble(require(name));
    }

    public int getInt(String name) {
        return Math.toIntExact(Long.parseLong(require(name)));
    }

    public long getLong(String name) {
        return Long.parseLong(require(name));
    }

    public boolean getBoolean(String name) {
        return Boolean.parseBoolean(require(name));
    }

    /** A comma-separated list, trimmed, empty entries dropped; empty when unset. */
    public List<String> getStringList(String name) {
        if (!specs.containsKey(name)) {
            throw new IllegalArgumentException("no parameter '" + name + "' is declared");
        }
        String value = values.get(name);
        if (value == null || value.isBlank()) {
            return List.of();
        }
        return Arrays.stream(value.split(",")).map(String::trim).filter(s -> !s.isEmpty()).toList();
    }

    private String require(String name) {
        if (!specs.containsKey(name)) {
            throw new IllegalArgumentException("no parameter '" + name + "' is declared");
        }
        String value = values.get(name);
        if (value == null) {
            throw new IllegalStateException("parameter '" + name + "' has no value and no default");
        }
        return value;
    }

    @Override
    public String toString() {
        return values.toString();
    }
}
