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
 * @param confidence one-sided confidence with which a candidate's drop must be shown within {@code maxDrop}
 *        ({@link DropBound}); 0.5 accepts on the measured drop alone
 */
public record SearchSpec(Objective objective, double maxDrop, OptionalDouble minSqnrDb, OptionalLong maxBytes,
        OptionalDouble maxLatencyMs, Set<String> techniques, double confidence) {

    /** Everything the search knows how to combine. */
    public static final Set<String> ALL_TECHNIQUES = Set.of("prune", "quantize", "lowrank", "finetune", "encode");

    /** When the spec names no drop: half a point. */
    public static final double DEFAULT_MAX_DROP = 0.005;

    /**
     * When the spec names no confidence: one-sided 99%, z = 2.326 ({@link DropBound}). The user's constraint is checked by
     * a measurement of their own, on held-out data the search never saw, and that measurement is as noisy as the search's:
     * for the drop measured on a held-out set as large as the evaluation data to be within {@code max_drop} with 95%
     * confidence, the bound must cover both measurements' sampling error, sqrt(2) standard errors at z = 1.645, which is
     * z = 2.326, the 99% quantile. Measured (server/service README, "With the margin"): at 0.95 the search kept a
     * LeNet-300-100 candidate that its validation split flattered (test drop 0.64 points over a 0.5 constraint); at 0.99
     * both LeNet searches met the constraint on the test images and the size goals.
     */
    public static final double DEFAULT_CONFIDENCE = 0.99;

    /** The highest confidence a spec may ask for (z = 3.72). */
    public static final double MAX_CONFIDENCE = 0.9999;

    /** When the spec names no budget: ten minutes. */
    public static final long DEFAULT_BUDGET_MILLIS = 10 * 60_000L;

    /** The longest budget a search job may ask for: a day. */
    public static final long MAX_BUDGET_MILLIS = 24 * 60 * 60_000L;

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

    /** Whether candidates are ranked or constrained by their latency. */
    public boolean judgesLatency() {
        return objective == Objective.LATENCY || maxLatencyMs.isPresent();
    }

    /** The z of the acceptance bound: the standard normal's quantile at {@link #confidence}. */
    public double z() {
        return DropBound.z(confidence);
    }

    /**
     * Parses {@code key=value} pairs separated by commas into the API's message: {@code objective} (size, macs, latency),
     * {@code max_drop}, {@code min_sqnr} (dB), {@code max_size} (bytes), {@code max_latency} (ms), {@code techniques}
     * (joined by {@code +}), {@code confidence} (of the drop's bound). The values are checked by {@link #of}, as the server checks them.
     *
     * @throws IllegalArgumentException naming every pair that is not {@code key=value} of a known key and a number
     */
    public static io.condense.proto.v1.SearchSpec parse(String text) {
        io.condense.proto.v1.SearchSpec.Builder proto = io.condense.proto.v1.SearchSpec.newBuilder();
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
                    case "objective" -> proto.setObjective(value);
                    case "max_drop" -> proto.setMaxDrop(Double.parseDouble(value));
                    case "min_sqnr" -> proto.setMinSqnrDb(Double.parseDouble(value));
                    case "max_size" -> proto.setMaxSizeBytes(Long.parseLong(value));
                    case "max_latency" -> proto.setMaxLatencyMs(Double.parseDouble(value));
                    case "techniques" -> proto.addAllTechniques(List.of(value.split("\\+")).stream().map(String::strip).toList());
                    case "confidence" -> proto.setConfidence(Double.parseDouble(value));
                    default -> problems.add("unknown key '" + key
                            + "' (known: objective, max_drop, min_sqnr, max_size, max_latency, techniques, confidence)");
                }
            } catch (NumberFormatException e) {
                problems.add("invalid value '" + value + "' for '" + key + "': not a number");
            }
        }
        if (!problems.isEmpty()) {
            throw new IllegalArgumentException("--auto \"" + text + "\": " + String.join("; ", problems));
        }
        return proto.build();
    }

    /**
     * The spec of a search job, checked as Submit checks it.
     *
     * @throws IllegalArgumentException listing every value that is out of range or unknown, and what is accepted
     */
    public static SearchSpec of(io.condense.proto.v1.SearchSpec proto) {
        List<String> problems = problems(proto);
        if (!problems.isEmpty()) {
            throw new IllegalArgumentException(String.join("; ", problems));
        }
        Objective objective = proto.getObjective().isEmpty() ? Objective.SIZE
                : Objective.valueOf(proto.getObjective().strip().toUpperCase(Locale.ROOT));
        Set<String> techniques = proto.getTechniquesCount() == 0 ? ALL_TECHNIQUES : new LinkedHashSet<>(proto.getTechniquesList());
        return new SearchSpec(objective, proto.hasMaxDrop() ? proto.getMaxDrop() : DEFAULT_MAX_DROP,
                proto.hasMinSqnrDb() ? OptionalDouble.of(proto.getMinSqnrDb()) : OptionalDouble.empty(),
                proto.hasMaxSizeBytes() ? OptionalLong.of(proto.getMaxSizeBytes()) : OptionalLong.empty(),
                proto.hasMaxLatencyMs() ? OptionalDouble.of(proto.getMaxLatencyMs()) : OptionalDouble.empty(), techniques,
                proto.hasConfidence() ? proto.getConfidence() : DEFAULT_CONFIDENCE);
    }

    /** Every problem of a search spec, each saying what is accepted; empty when it is valid. */
    public static List<String> problems(io.condense.proto.v1.SearchSpec proto) {
        List<String> problems = new ArrayList<>();
        if (!proto.getObjective().isEmpty()) {
            try {
                Objective.valueOf(proto.getObjective().strip().toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                problems.add("objective '" + proto.getObjective() + "' is not one of size, macs, latency");
            }
        }
        if (proto.hasMaxDrop() && !(proto.getMaxDrop() >= 0 && proto.getMaxDrop() < 1)) {
            problems.add("max_drop " + proto.getMaxDrop() + " must be a fraction in [0, 1): 0.005 is half a point of accuracy");
        }
        if (proto.hasConfidence() && !(proto.getConfidence() >= 0.5 && proto.getConfidence() <= MAX_CONFIDENCE)) {
            problems.add("confidence " + proto.getConfidence() + " must be in [0.5, " + MAX_CONFIDENCE + "]: the one-sided level at "
                    + "which a candidate's drop must be shown within max_drop (0.99 by default; 0.5 judges the measured drop alone)");
        }
        if (proto.hasMinSqnrDb() && !Double.isFinite(proto.getMinSqnrDb())) {
            problems.add("min_sqnr " + proto.getMinSqnrDb() + " must be a finite number of dB");
        }
        if (proto.hasMaxSizeBytes() && proto.getMaxSizeBytes() <= 0) {
            problems.add("max_size " + proto.getMaxSizeBytes() + " must be a number of bytes > 0");
        }
        if (proto.hasMaxLatencyMs() && !(proto.getMaxLatencyMs() > 0)) {
            problems.add("max_latency " + proto.getMaxLatencyMs() + " must be a number of ms > 0");
        }
        for (String technique : proto.getTechniquesList()) {
            if (!ALL_TECHNIQUES.contains(technique)) {
                problems.add("technique '" + technique + "' is not one the search combines ("
                        + String.join(", ", ALL_TECHNIQUES.stream().sorted().toList()) + "); join several with +");
            }
        }
        if (proto.getBudgetMs() < 0 || proto.getBudgetMs() > MAX_BUDGET_MILLIS) {
            problems.add("budget_ms " + proto.getBudgetMs() + " must be in [0, " + MAX_BUDGET_MILLIS + "] (0: "
                    + DEFAULT_BUDGET_MILLIS / 60_000 + " minutes)");
        }
        return problems;
    }

    /** The budget of a search job in milliseconds: the spec's, or {@link #DEFAULT_BUDGET_MILLIS}. */
    public static long budgetMillis(io.condense.proto.v1.SearchSpec proto) {
        return proto.getBudgetMs() > 0 ? proto.getBudgetMs() : DEFAULT_BUDGET_MILLIS;
    }

    /** The spec as it would be typed, for the report. */
    public String describe() {
        StringBuilder text = new StringBuilder("objective=" + objective.key());
        text.append(String.format(Locale.ROOT, ", max_drop=%s", maxDrop));
        minSqnrDb.ifPresent(v -> text.append(String.format(Locale.ROOT, ", min_sqnr=%s", v)));
        maxBytes.ifPresent(v -> text.append(", max_size=").append(v));
        maxLatencyMs.ifPresent(v -> text.append(String.format(Locale.ROOT, ", max_latency=%s", v)));
        text.append(", techniques=").append(String.join("+", techniques.stream().sorted().toList()));
        text.append(String.format(Locale.ROOT, ", confidence=%s", confidence));
        return text.toString();
    }
}
