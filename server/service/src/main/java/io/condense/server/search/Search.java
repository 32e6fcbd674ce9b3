package io.condense.server.search;

import static java.util.Objects.requireNonNull;

import io.condense.proto.v1.SubmitRequest;
import io.condense.server.cli.CondenseClient;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;

/**
 * The accuracy-aware search: measures the layers' sensitivity once, runs every family's first candidates together,
 * then bisects each family's knob round by round (all rounds' candidates at once, as ordinary jobs spread over the
 * workers) until the brackets close or the budget ends. Always answers the best candidate found: the one with the
 * smallest objective among those meeting the constraints, else the completed one that lost least.
 */
public final class Search {
    /** Evaluation samples per candidate when the request names none: every sample of the evaluation data up to this many. */
    public static final int EVALUATION_SAMPLES = 100_000;
    /**
     * Least time each candidate's evaluation spends timing it against the original when the objective is latency
     * ({@code SubmitRequest.latency_ms}): about a hundred interleaved pairs of a model of a few milliseconds instead of ten,
     * whose median ratio moved UltraFace's channel-pruning candidates from 0.47x to 1.88x on a busy machine.
     */
    public static final int LATENCY_MS = 500;

    /** Points each open bracket gets per round after the first. */
    static final int POINTS_PER_ROUND = 2;

    /**
     * Most times a trained family's own epochs its candidates train when the search lengthens their training. On the
     * Fashion-MNIST LeNet-5 (server/service README, "Longer training within the budget") sparsity 0.89 with k-means 4 bits
     * missed the 0.5-point bound at the family's epochs (bound 0.68) and at twice them (0.52), and met it at four times
     * (0.21).
     */
    static final int MAX_TRAINING_EFFORT = 8;

    private final CandidateRunner jobs;
    private final SearchSpec spec;
    private final Consumer<String> log;
    private final BooleanSupplier cancelled;

    /**
     * @param base the model, data and evaluation settings every candidate shares
     * @param searchKey what makes the candidates' client request ids this search's: the same key resumes the search
     * @param log one line per round, candidate submitted or resumed, candidate finished and best so far
     * @param cancelled true once the search is to stop (its candidates still running are cancelled)
     */
    public Search(CondenseClient client, SubmitRequest base, String searchKey, SearchSpec spec, Consumer<String> log,
            BooleanSupplier cancelled) {
        this(new CandidateJobs(client, base, searchKey, spec, log, cancelled), spec, log, cancelled);
    }

    /** A search whose candidates {@code jobs} runs (tests give a model of the candidates' results). */
    Search(CandidateRunner jobs, SearchSpec spec, Consumer<String> log, BooleanSupplier cancelled) {
        this.jobs = requireNonNull(jobs, "jobs is null");
        this.spec = requireNonNull(spec, "spec is null");
        this.log = requireNonNull(log, "log is null");
        this.cancelled = requireNonNull(cancelled, "cancelled is null");
    }

    /**
     * @param calibration the base request has calibration data
     * @param training the base request has training data
     * @param budgetMillis wall time for the whole search
     */
    public SearchOutcome run(boolean calibration, boolean training, long budgetMillis) {
        long started = System.currentTimeMillis();
        long deadline = started + budgetMillis;
        List<KnobBracket> brackets = SearchSpace.families(spec, calibration, training).stream().map(KnobBracket::new).toList();
        noCandidates(spec, calibration, training).ifPresent(problem -> {
            throw new IllegalArgumentException(problem);
        });
        List<CandidateResult> results = new ArrayList<>();
        List<Candidate> round = new ArrayList<>();
        Optional<CandidateResult> sensitivity = Optional.empty();
        // the curves of unstructured pruning describe size and accuracy, not what makes a model faster
        if (spec.techniques().contains("prune") && spec.objective() != SearchSpec.Objective.LATENCY) {
            round.add(SearchSpace.sensitivity());
        }
        brackets.forEach(bracket -> round.addAll(bracket.first()));
        int number = 1;
        while (!round.isEmpty() && System.currentTimeMillis() < deadline && !cancelled.getAsBoolean()) {
            log.accept("round " + number + ": " + round.size() + " candidates");
            for (CandidateResult result : jobs.run(round, deadline)) {
                if (result.candidate().family().equals("sensitivity")) {
                    sensitivity = Optional.of(result);
                    continue;
                }
                results.add(result);
                brackets.stream().filter(b -> b.family().name().equals(result.candidate().family())).forEach(b -> b.record(result));
            }
            round.clear();
            brackets.forEach(bracket -> round.addAll(bracket.next(POINTS_PER_ROUND)));
            if (round.isEmpty() && !cancelled.getAsBoolean()) {
                longerTraining(brackets, results, deadline).ifPresent(round::add);
            }
            best(results).ifPresent(best -> log.accept("best so far: " + SearchLog.line(best, spec).strip()));
            number++;
        }
        long elapsed = System.currentTimeMillis() - started;
        return new SearchOutcome(spec, results, best(results), sensitivity, elapsed, budgetMillis, number - 1);
    }

    /**
     * When every bracket has closed with budget left: the trained candidate that missed the constraint only by its margin
     * (its measured drop within {@code max_drop}, the drop's upper bound not) and would beat the best candidate that meets
     * it, again with its family's fine-tuning lengthened. Retraining longer is what a pruned and weight-shared model needs
     * to come back to its original's accuracy (Deep Compression retrains for as long as the original trained), and the
     * samples a retrained model loses against the original are what the bound charges. The factor is the largest power of
     * two (up to {@link #MAX_TRAINING_EFFORT} in all) whose estimated time, from the candidate's own steps, leaves room for
     * two rounds of bisection from it (five such candidates in all: a process trains one model at a time); nothing when even
     * twice does not fit.
     */
    private Optional<Candidate> longerTraining(List<KnobBracket> brackets, List<CandidateResult> results, long deadline) {
        if (spec.minSqnrDb().isPresent()) {
            return Optional.empty();
        }
        double bestMeeting = results.stream().filter(CandidateResult::meets).mapToDouble(r -> r.objective(spec.objective())).min()
                .orElse(Double.POSITIVE_INFINITY);
        KnobBracket chosen = null;
        CandidateResult nearMiss = null;
        for (KnobBracket bracket : brackets) {
            if (!bracket.family().trains() || bracket.effort() * 2 > MAX_TRAINING_EFFORT) {
                continue;
            }
            for (CandidateResult result : bracket.atCurrentEffort()) {
                boolean onlyTheMargin = !result.meets() && result.failures().size() == 1 && result.drop() <= spec.maxDrop();
                double objective = result.objective(spec.objective());
                if (onlyTheMargin && objective < bestMeeting
                        && (nearMiss == null || objective < nearMiss.objective(spec.objective()))) {
                    chosen = bracket;
                    nearMiss = result;
                }
            }
        }
        if (nearMiss == null) {
            return Optional.empty();
        }
        double seconds = workSeconds(nearMiss);
        double remaining = (deadline - System.currentTimeMillis()) / 1000.0;
        int factor = 2;
        while (chosen.effort() * factor * 2 <= MAX_TRAINING_EFFORT && seconds * factor * 2 * (1 + 2 * POINTS_PER_ROUND) <= remaining) {
            factor *= 2;
        }
        String what = String.format(Locale.ROOT, "%s (drop %.4f within %.4f, its bound %.4f not)", nearMiss.candidate().pipeline(),
                nearMiss.drop(), spec.maxDrop(), nearMiss.dropBound());
        if (seconds * factor > remaining) {
            log.accept(String.format(Locale.ROOT, "not training %s longer: about %.0f s at twice the epochs, %.0f s of budget left", what,
                    seconds * 2, remaining));
            return Optional.empty();
        }
        chosen.trainLonger(factor);
        log.accept(String.format(Locale.ROOT, "training %dx longer from now on (about %.0f s a candidate): %s", factor, seconds * factor,
                what));
        return Optional.of(chosen.family().at(nearMiss.candidate().knob()));
    }

    /** The time a candidate's steps took (waiting for a worker or the training slot left out), else its job's whole time. */
    private static double workSeconds(CandidateResult result) {
        double millis = 0;
        if (result.report().get("steps") instanceof List<?> steps) {
            for (Object step : steps) {
                if (step instanceof Map<?, ?> map && map.get("duration_ms") instanceof Number duration) {
                    millis += duration.doubleValue();
                }
            }
        }
        return millis > 0 ? millis / 1000 : result.seconds();
    }

    /** Why the spec gives no candidate with this data (checked at Submit), or empty when it gives some. */
    public static Optional<String> noCandidates(SearchSpec spec, boolean calibration, boolean training) {
        if (!SearchSpace.families(spec, calibration, training).isEmpty()) {
            return Optional.empty();
        }
        return Optional.of("the techniques " + spec.techniques().stream().sorted().toList() + " give no candidate for objective "
                + spec.objective().key() + (calibration ? "" : " without calibration data")
                + "; allow more techniques (techniques=quantize+lowrank+prune)");
    }

    private Optional<CandidateResult> best(List<CandidateResult> results) {
        Comparator<CandidateResult> byObjective = Comparator.comparingDouble(r -> r.objective(spec.objective()));
        Optional<CandidateResult> meeting = results.stream().filter(CandidateResult::meets)
                .min(byObjective.thenComparing(Comparator.comparingDouble(CandidateResult::quality).reversed()));
        if (meeting.isPresent()) {
            return meeting;
        }
        Comparator<CandidateResult> leastLoss = spec.minSqnrDb().isPresent()
                ? Comparator.comparingDouble((CandidateResult r) -> -r.sqnrDb()) : Comparator.comparingDouble(CandidateResult::dropBound);
        return results.stream().filter(CandidateResult::completed).min(leastLoss.thenComparing(byObjective));
    }
}
