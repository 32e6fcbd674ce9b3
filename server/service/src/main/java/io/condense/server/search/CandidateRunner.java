package io.condense.server.search;

import java.util.List;

/** Runs one round of a search's candidates to their results, in the candidates' order. */
interface CandidateRunner {
    /** Every candidate's result; those not finished by {@code deadlineMillis} end as not run. */
    List<CandidateResult> run(List<Candidate> candidates, long deadlineMillis);
}
