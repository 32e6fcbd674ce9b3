package io.condense.sdk.technique;

import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import java.util.List;
import java.util.stream.Collectors;

/** Thrown when parameters break their specs; carries every problem found, not just the first. */
public final class InvalidParametersException extends CondenseException {
    private static final long serialVersionUID = 1L;

    private final transient List<ParameterProblem> problems;

    public InvalidParametersException(List<ParameterProblem> problems) {
        super(ErrorCode.INVALID_PARAMETER, problems.stream().map(ParameterProblem::message).collect(Collectors.joining("; ")));
        this.problems = List.copyOf(problems);
    }

    public List<ParameterProblem> problems() {
        return problems;
    }
}
