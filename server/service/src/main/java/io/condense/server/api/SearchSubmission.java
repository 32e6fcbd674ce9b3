package io.condense.server.api;

import io.condense.proto.v1.PipelineStep;
import io.condense.proto.v1.SubmitRequest;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.server.search.Search;
import io.condense.server.search.SearchSpec;
import io.condense.server.search.SearchStep;
import java.util.ArrayList;
import java.util.List;

/**
 * Submit's check of a search job (a request with {@code search} set), made before anything is published, like a
 * pipeline's: every problem of the spec and the request in one {@code INVALID_ARGUMENT}. A valid one becomes a job of
 * one step, {@code search}, which the API processes' search runners take from {@code condense.steps.search}.
 */
final class SearchSubmission {
    private SearchSubmission() {
    }

    /** The search job's one step, naming its spec and budget (what the job view shows). */
    static PipelineStep step(SubmitRequest request) {
        List<String> problems = new ArrayList<>();
        if (request.getStepsCount() > 0) {
            problems.add("a search job has no steps (the search chooses them): give either steps or search, not both");
        }
        if (request.getEvaluationDataId().isEmpty()) {
            problems.add("a search judges every candidate by evaluating it: set evaluation_data_id (with evaluation_labels_id for "
                    + "accuracy; --eval-data and --eval-labels)");
        }
        if (request.getSkipEvaluation()) {
            problems.add("a search needs each candidate's evaluation: do not set skip_evaluation");
        }
        List<String> specProblems = SearchSpec.problems(request.getSearch());
        problems.addAll(specProblems);
        if (specProblems.isEmpty()) {
            Search.noCandidates(SearchSpec.of(request.getSearch()), !request.getCalibrationDataId().isEmpty(),
                    !request.getTrainDataId().isEmpty()).ifPresent(problems::add);
        }
        if (!problems.isEmpty()) {
            throw new CondenseException(ErrorCode.INVALID_PARAMETER, "invalid search: " + String.join("; ", problems));
        }
        return PipelineStep.newBuilder().setTechnique(SearchStep.TECHNIQUE)
                .putParameters("spec", SearchSpec.of(request.getSearch()).describe())
                .putParameters("budget_s", Long.toString(SearchSpec.budgetMillis(request.getSearch()) / 1000)).build();
    }
}
