package io.condense.server.channel;

import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A channel's quality gate, for example {@code accuracy>=0.85, sqnr>=20}: conditions on the figures of a version's
 * evaluation (the job report's {@code evaluation}), all of which must hold. Figures: {@code accuracy} (after compression,
 * needs labelled evaluation data), {@code accuracy_drop} (before minus after), {@code agreement} (top-1 agreement with the
 * uncompressed model), {@code sqnr} (dB), {@code cosine}.
 */
public final class Gate {
    private static final Pattern CONDITION = Pattern.compile("\\s*([a-z_0-9]+)\\s*(>=|<=|>|<)\\s*([-+0-9.eE]+)\\s*");
    private static final Map<String, String> FIGURES = Map.of(
            "accuracy", "accuracy_after", "agreement", "top1_agreement", "sqnr", "sqnr_db", "cosine", "cosine_similarity",
            "accuracy_drop", "");

    private final String text;
    private final List<Condition> conditions;

    private record Condition(String figure, String operator, double bound) {
        boolean holds(double value) {
            return switch (operator) {
                case ">=" -> value >= bound;
                case "<=" -> value <= bound;
                case ">" -> value > bound;
                default -> value < bound;
            };
        }

        @Override
        public String toString() {
            return figure + operator + bound;
        }
    }

    /** The outcome for one version: whether every condition held, the figures it looked at, and why not. */
    public record Verdict(boolean passed, Map<String, Double> figures, String reason) {
    }

    private Gate(String text, List<Condition> conditions) {
        this.text = text;
        this.conditions = conditions;
    }

    /** Parses a gate; an empty text is no gate. INVALID_PARAMETER naming what is wrong. */
    public static Gate parse(String text) {
        List<Condition> conditions = new ArrayList<>();
        if (!text.isBlank()) {
            for (String part : text.split(",")) {
                Matcher matcher = CONDITION.matcher(part.toLowerCase(Locale.ROOT));
                if (!matcher.matches()) {
                    throw new CondenseException(ErrorCode.INVALID_PARAMETER, "gate condition '" + part.trim()
                            + "' is not FIGURE OP NUMBER (for example accuracy>=0.85; OP one of >=, <=, >, <)");
                }
                if (!FIGURES.containsKey(matcher.group(1))) {
                    throw new CondenseException(ErrorCode.INVALID_PARAMETER, "gate condition '" + part.trim() + "' names the unknown figure '"
                            + matcher.group(1) + "'; known are accuracy, accuracy_drop, agreement, sqnr and cosine");
                }
                try {
                    conditions.add(new Condition(matcher.group(1), matcher.group(2), Double.parseDouble(matcher.group(3))));
                } catch (NumberFormatException e) {
                    throw new CondenseException(ErrorCode.INVALID_PARAMETER, "gate condition '" + part.trim() + "': '" + matcher.group(3)
                            + "' is not a number");
                }
            }
        }
        return new Gate(text.trim(), List.copyOf(conditions));
    }

    /** Whether a condition needs accuracy, which only labelled evaluation data gives. */
    public boolean needsLabels() {
        return conditions.stream().anyMatch(condition -> condition.figure().startsWith("accuracy"));
    }

    public boolean isEmpty() {
        return conditions.isEmpty();
    }

    /** Judges a completed job's report; a figure the report lacks fails its condition, saying so. */
    public Verdict judge(Struct report) {
        Struct evaluation = report.getFieldsOrDefault("evaluation", Value.getDefaultInstance()).getStructValue();
        Map<String, Double> figures = new LinkedHashMap<>();
        List<String> failed = new ArrayList<>();
        for (Condition condition : conditions) {
            Double value = figure(evaluation, condition.figure());
            if (value == null) {
                failed.add(condition + " (the evaluation has no " + condition.figure() + "; it needs "
                        + (condition.figure().startsWith("accuracy") ? "evaluation data with labels" : "an evaluation") + ")");
                continue;
            }
            figures.put(condition.figure(), value);
            if (!condition.holds(value)) {
                failed.add(String.format(Locale.ROOT, "%s is %.4f, the gate asks %s", condition.figure(), value, condition));
            }
        }
        return new Verdict(failed.isEmpty(), figures, failed.isEmpty() ? "" : "the gate " + text + " failed: " + String.join("; ", failed));
    }

    private static Double figure(Struct evaluation, String figure) {
        if (figure.equals("accuracy_drop")) {
            Double before = number(evaluation, "accuracy_before");
            Double after = number(evaluation, "accuracy_after");
            return before == null || after == null ? null : before - after;
        }
        Value raw = evaluation.getFieldsMap().get(FIGURES.get(figure));
        if (figure.equals("sqnr") && raw != null && raw.getKindCase() == Value.KindCase.NULL_VALUE) {
            return Double.POSITIVE_INFINITY; // the report writes an infinite SQNR (identical outputs) as null
        }
        return number(evaluation, FIGURES.get(figure));
    }

    private static Double number(Struct struct, String field) {
        Value value = struct.getFieldsMap().get(field);
        return value == null || value.getKindCase() != Value.KindCase.NUMBER_VALUE ? null : value.getNumberValue();
    }

    @Override
    public String toString() {
        return text;
    }
}
