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

    private final Family base;
    private Family family;
    private int effort = 1;
    private final List<CandidateResult> atEffort = new ArrayList<>();
    private double passing = Double.NaN;
    private final List<Double> failures = new ArrayList<>();

    KnobBracket(Family family) {
        this.base = family;
        this.family = family;
    }

    /** The family as its candidates are now made (with {@link #trainLonger}, its fine-tuning stages lengthened). */
    Family family() {
        return family;
    }

    /** How many times the family's own epochs its candidates now train. */
    int effort() {
        return effort;
    }

    /** The completed candidates made at the current effort. */
    List<CandidateResult> atCurrentEffort() {
        return List.copyOf(atEffort);
    }

    /**
     * From now on candidates train {@code factor} times the family's epochs. The bracket's ends stay: a point that met the
     * constraint with less training meets it with more, and the mildest failure stays the estimate of where the family stops
     * meeting it (bisection walks back from there if longer training moved it).
     */
    void trainLonger(int factor) {
        if (!family.trains() || factor < 2) {
            throw new IllegalStateException("family " + family.name() + " cannot train " + factor + " times longer");
        }
        effort *= factor;
        family = base.trainedLonger(effort);
        atEffort.clear();
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
        if (result.candidate().pipeline().equals(family.at(knob).pipeline())) {
            atEffort.add(result);
        }
        if (result.meets()) {
            if (Double.isNaN(passing) || further(knob, passing)) {
                passing = knob;
            }
        } else {
            failures.add(knob);
        }
    }

    /**
     * {@code count} points strictly inside the bracket, or none when it is closed (nothing passes, or it is narrow). Its far
     * end is the mildest failure beyond the most aggressive pass: a failure milder than a pass (a candidate that trained
     * less, or noise) does not close it.
     */
    List<Candidate> next(int count) {
        if (!family.hasKnob() || Double.isNaN(passing)) {
            return List.of();
        }
        double failing = Double.NaN;
        for (double knob : failures) {
            if (further(knob, passing) && (Double.isNaN(failing) || further(failing, knob))) {
                failing = knob;
            }
        }
        if (Double.isNaN(failing)) {
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
