package io.condense.server.search;

import java.util.ArrayList;
import java.util.List;

/**
 * Bisection of one family's knob: the most aggressive value known to meet the constraint and the mildest known to miss
 * it; each round proposes points between the two. Quality is taken to fall monotonically as the knob gets more aggressive.
 */
final class KnobBracket {
    /** Stop when the bracket is narrower than this share of the family's whole range. */
    static final double TOLERANCE = 0.03;

    private final Family family;
    private double passing = Double.NaN;
    private double failing = Double.NaN;

    KnobBracket(Family family) {
        this.family = family;
    }

    Family family() {
        return family;
    }

    /** The first round: the two ends and the middle (a family without a knob: its one pipeline). */
    List<Candidate> first() {
        if (!family.hasKnob()) {
            return List.of(family.at(0));
        }
        double middle = (family.mild() + family.aggressive()) / 2;
        return List.of(family.at(family.mild()), family.at(middle), family.at(family.aggressive()));
    }

    void record(CandidateResult result) {
        double knob = result.candidate().knob();
        if (Double.isNaN(knob) || !result.completed()) {
            return;
        }
        if (result.meets()) {
            if (Double.isNaN(passing) || further(knob, passing)) {
                passing = knob;
            }
        } else if (Double.isNaN(failing) || further(failing, knob)) {
            failing = knob;
        }
    }

    /** {@code count} points strictly inside the bracket, or none when it is closed (nothing passes, or it is narrow). */
    List<Candidate> next(int count) {
        if (!family.hasKnob() || Double.isNaN(passing) || Double.isNaN(failing) || !further(failing, passing)) {
            return List.of();
        }
        double width = Math.abs(failing - passing);
        if (width < TOLERANCE * Math.abs(family.aggressive() - family.mild())) {
            return List.of();
        }
        List<Candidate> points = new ArrayList<>();
        for (int i = 1; i <= count; i++) {
            points.add(family.at(passing + (failing - passing) * i / (count + 1)));
        }
        return points;
    }

    /** Whether {@code a} is more aggressive than {@code b}. */
    private boolean further(double a, double b) {
        return family.aggressive() > family.mild() ? a > b : a < b;
    }
}
