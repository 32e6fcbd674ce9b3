package io.condense.server.search;

import static java.util.Objects.requireNonNull;

import io.condense.proto.v1.SubmitRequest;
import io.condense.server.cli.CondenseClient;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
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

    private final CandidateJobs jobs;
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
        this.spec = requireNonNull(spec, "spec is null");
        this.log = requireNonNull(log, "log is null");
        this.cancelled = requireNonNull(cancelled, "cancelled is null");
        this.jobs = new CandidateJobs(client, base, searchKey, spec, log, cancelled);
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
            best(results).ifPresent(best -> log.accept("best so far: " + SearchLog.line(best, spec).strip()));
            number++;
        }
        long elapsed = System.currentTimeMillis() - started;
        return new SearchOutcome(spec, results, best(results), sensitivity, elapsed, budgetMillis, number - 1);
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
