package io.condense.server.search;

import io.condense.proto.v1.SubmitRequest;

/**
 * The default key of a search: the same model, data, spec and budget give the same key, so running the same command
 * again against the same server resumes the search (its finished candidates answer from their jobs) instead of starting over.
 */
public final class SearchKey {
    private SearchKey() {
    }

    public static String of(SubmitRequest request, SearchSpec spec, long budgetMillis) {
        String identity = String.join("\n", request.getModelId(), request.getEvaluationDataId(), request.getEvaluationLabelsId(),
                request.getCalibrationDataId(), request.getTrainDataId(), request.getTrainLabelsId(), spec.describe(),
                Long.toString(budgetMillis));
        return CandidateJobs.sha256(identity).substring(0, 16);
    }
}
