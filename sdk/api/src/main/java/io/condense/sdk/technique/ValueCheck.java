package io.condense.sdk.technique;

import static java.util.Objects.requireNonNull;

import java.util.Arrays;

/**
 * A rule a text value must follow beyond its {@link ParameterType}: an {@code N:M} pattern, a regular expression,
 * a list of numbers. Declared on the {@link ParameterSpec} with {@link ParameterSpec#withCheck}, so the host finds a
 * bad value when the pipeline is submitted, before any model is read.
 *
 * <pre>{@code
 * ParameterSpec.stringParameter("pattern", "", "N:M semi-structured sparsity")
 *         .withCheck(text -> text.isBlank() || text.matches("\\d+:\\d+") ? null : "must be N:M, for example 2:4")
 * }</pre>
 */
@FunctionalInterface
public interface ValueCheck {

    /**
     * @param value the value as given, trimmed; never null
     * @return what is wrong with it, in words that complete "Invalid value X for parameter 'p': ...", or null when it is fine
     */
    String problem(String value);

    /**
     * Applies {@code item} to every entry of a comma-separated list (trimmed, empty entries skipped); the first problem
     * wins, so {@code item}'s message should quote the entry it refuses.
     */
    static ValueCheck eachItem(ValueCheck item) {
        requireNonNull(item, "item is null");
        return value -> Arrays.stream(value.split(","))
                .map(String::trim)
                .filter(entry -> !entry.isEmpty())
                .map(item::problem)
                .filter(problem -> problem != null)
                .findFirst()
                .orElse(null);
    }
}
