package io.condense.sdk.technique;

/**
 * A numeric range with open or closed ends; {@code null} bounds are unbounded.
 * {@link #toString()} gives the usual notation, for example {@code [0, 1)}.
 */
public record Range(Double min, boolean minInclusive, Double max, boolean maxInclusive) {

    public static Range closed(double min, double max) {
        return new Range(min, true, max, true);
    }

    public static Range closedOpen(double min, double max) {
        return new Range(min, true, max, false);
    }

    public static Range open(double min, double max) {
        return new Range(min, false, max, false);
    }

    public static Range atLeast(double min) {
        return new Range(min, true, null, false);
    }

    public static Range greaterThan(double min) {
        return new Range(min, false, null, false);
    }

    public boolean contains(double value) {
        if (Double.isNaN(value)) {
            return false;
        }
        if (min != null && (minInclusive ? value < min : value <= min)) {
            return false;
        }
        return max == null || (maxInclusive ? value <= max : value < max);
    }

    @Override
    public String toString() {
        return (min == null ? "(-inf" : (minInclusive ? "[" : "(") + format(min))
                + ", "
                + (max == null ? "+inf)" : format(max) + (maxInclusive ? "]" : ")"));
    }

    private static String format(double value) {
        return value == Math.rint(value) && Math.abs(value) < 1e15 ? Long.toString((long) value) : Double.toString(value);
    }
}
