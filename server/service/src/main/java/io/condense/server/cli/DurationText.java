package io.condense.server.cli;

import java.time.Duration;
import java.util.Locale;

/** Durations as operators write them on the command line: 500ms, 90s, 10m, 1h, 7d (a bare number is seconds). */
final class DurationText {
    private DurationText() {
    }

    /** The positive duration {@code text} names; IllegalArgumentException naming {@code option} otherwise. */
    static Duration parse(String option, String text) {
        String value = text.strip().toLowerCase(Locale.ROOT);
        double unit = 1000;
        String[][] units = {{"ms", "1"}, {"s", "1000"}, {"m", "60000"}, {"h", "3600000"}, {"d", "86400000"}};
        for (String[] candidate : units) {
            if (value.endsWith(candidate[0])) {
                unit = Double.parseDouble(candidate[1]);
                value = value.substring(0, value.length() - candidate[0].length());
                break;
            }
        }
        try {
            double amount = Double.parseDouble(value);
            if (amount > 0) {
                return Duration.ofMillis((long) (amount * unit));
            }
        } catch (NumberFormatException e) {
            // the message below
        }
        throw new IllegalArgumentException(option + " " + text + " is not a duration: write 10m, 90s, 1h or 7d");
    }
}
