package io.condense.bench;

import java.util.Arrays;

/** Milliseconds of a number of runs, and the wall-clock time they took together (0 when not a throughput figure). */
record Sample(double[] sortedMillis, double wallMs) {
    static Sample of(double[] millis, double wallMs) {
        double[] sorted = millis.clone();
        Arrays.sort(sorted);
        return new Sample(sorted, wallMs);
    }

    int count() {
        return sortedMillis.length;
    }

    /** Nearest rank. */
    double percentile(int percent) {
        int rank = (int) Math.ceil(percent / 100.0 * sortedMillis.length);
        return sortedMillis[Math.max(0, rank - 1)];
    }

    double max() {
        return sortedMillis[sortedMillis.length - 1];
    }

    double mean() {
        return Arrays.stream(sortedMillis).average().orElse(0);
    }

    double perSecond() {
        return sortedMillis.length / (wallMs / 1000);
    }
}
