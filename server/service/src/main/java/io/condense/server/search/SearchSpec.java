package io.condense.server.search;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.OptionalDouble;
import java.util.OptionalLong;
import java.util.Set;

/**
 * What an accuracy-aware search is asked for: {@code "max_drop=0.005, objective=size"}. The objective is minimised among the
 * candidates that meet every constraint.
 *
 * @param objective what to make small
 * @param maxDrop largest acceptable loss of quality: accuracy (a fraction, 0.005 = half a point) when the evaluation data
 *        has labels, else top-1 agreement with the original model (1 - agreement), unless {@code minSqnrDb} is given
 * @param minSqnrDb smallest acceptable output SQNR in dB against the original model (for models without labels: detectors)
 * @param maxBytes largest acceptable size of the result, when given
 * @param maxLatencyMs largest acceptable median latency in ms of one sample in ONNX Runtime, when given
 * @param techniques the techniques the search may use
 */
public record SearchSpec(Objective objective, double maxDrop, OptionalDouble minSqnrDb, OptionalLong maxBytes,
        OptionalDouble maxLatencyMs, Set<String> techniques) {

    /** Everything the search knows how to combine. */
    public static final Set<String> ALL_TECHNIQUES = Set.of("prune", "quantize", "lowrank", "finetune", "encode");

    /** When the spec names no drop: half a point. */
    public static final double DEFAULT_MAX_DROP = 0.005;

    public enum Objective {
        SIZE, MACS, LATENCY;

        String key() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    public SearchSpec {
        java.util.Objects.requireNonNull(objective, "objective is null");
        techniques = Set.copyOf(techniques);
    }

    /**
     * Parses {@code key=value} pairs separated by commas: {@code objective} (size, macs, latency), {@code max_drop},
     * {@code min_sqnr} (dB), {@code max_size} (bytes), {@code max_latency} (ms), {@code techniques} (joined by {@code +}).
     *
     * @throws IllegalArgumentException naming the pair that is wrong and what is accepted
     */
    public static SearchSpec parse(String text) {
        Objective objective = Objective.SIZE;
        double maxDrop = DEFAULT_MAX_DROP;
        OptionalDouble minSqnr = OptionalDouble.empty();
        OptionalLong maxBytes = OptionalLong.empty();
        OptionalDouble maxLatency = OptionalDouble.empty();
        Set<String> techniques = new LinkedHashSet<>(ALL_TECHNIQUES);
        List<String> problems = new ArrayList<>();
        for (String pair : text.split(",")) {
            if (pair.isBlank()) {
                continue;
            }
            int equals = pair.indexOf('=');
            if (equals < 0) {
                problems.add("'" + pair.strip() + "' is not key=value");
                continue;
            }
            String key = pair.substring(0, equals).strip();
            String value = pair.substring(equals + 1).strip();
            try {
                switch (key) {
                    case "objective" -> objective = objective(value);
                    case "max_drop" -> maxDrop = fraction(value);
                    case "min_sqnr" -> minSqnr = OptionalDouble.of(Double.parseDouble(value));
                    case "max_size" -> maxBytes = OptionalLong.of(positiveLong(value));
                    case "max_latency" -> maxLatency = OptionalDouble.of(positive(value));
                    case "techniques" -> techniques = techniques(value);
                    default -> problems.add("unknown key '" + key
                            + "' (known: objective, max_drop, min_sqnr, max_size, max_latency, techniques)");
                }
            } catch (IllegalArgumentException e) {
                problems.add("invalid value '" + value + "' for '" + key + "': " + e.getMessage());
            }
        }
        if (!problems.isEmpty()) {
            throw new IllegalArgumentException("--auto \"" + text + "\": " + String.join("; ", problems));
        }
        return new SearchSpec(objective, maxDrop, minSqnr, maxBytes, maxLatency, techniques);
    }

    /** The spec as it would be typed, for the report. */
    public String describe() {
        StringBuilder text = new StringBuilder("objective=" + objective.key());
        text.append(String.format(Locale.ROOT, ", max_drop=%s", maxDrop));
        minSqnrDb.ifPresent(v -> text.append(String.format(Locale.ROOT, ", min_sqnr=%s", v)));
        maxBytes.ifPresent(v -> text.append(", max_size=").append(v));
        maxLatencyMs.ifPresent(v -> text.append(String.format(Locale.ROOT, ", max_latency=%s", v)));
        text.append(", techniques=").append(String.join("+", techniques.stream().sorted().toList()));
        return text.toString();
    }

    private static Objective objective(String value) {
        try {
            return Objective.valueOf(value.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("must be size, macs or latency");
        }
    }

    private static double fraction(String value) {
        double number = Double.parseDouble(value);
        if (!(number >= 0 && number < 1)) {
            throw new IllegalArgumentException("must be a fraction in [0, 1): 0.005 is half a point of accuracy");
        }
        return number;
    }

    private static double positive(String value) {
        double number = Double.parseDouble(value);
        if (!(number > 0)) {
            throw new IllegalArgumentException("must be > 0");
        }
        return number;
    }

    private static long positiveLong(String value) {
        long number = Long.parseLong(value);
        if (number <= 0) {
            throw new IllegalArgumentException("must be a number of bytes > 0");
        }
        return number;
    }

    private static Set<String> techniques(String value) {
        Set<String> chosen = new LinkedHashSet<>();
        for (String name : value.split("\\+")) {
            String technique = name.strip();
            if (!ALL_TECHNIQUES.contains(technique)) {
                throw new IllegalArgumentException("'" + technique + "' is not one the search combines (" 
                        + String.join(", ", ALL_TECHNIQUES.stream().sorted().toList()) + "); join several with +");
            }
            chosen.add(technique);
        }
        return chosen;
    }
}
