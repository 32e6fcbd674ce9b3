package io.condense.server.api;

import static org.assertj.core.api.Assertions.assertThat;

import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCategory;
import io.condense.sdk.error.ErrorCode;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import org.junit.jupiter.api.Test;

class ErrorStatusTest {

    @Test
    void userErrorsAreStatusesAboutTheRequest() {
        for (ErrorCode code : ErrorCode.values()) {
            Status.Code status = ErrorStatus.grpcCode(code);
            if (code.category() == ErrorCategory.USER) {
                assertThat(status).as(code.name()).isIn(Status.Code.INVALID_ARGUMENT, Status.Code.NOT_FOUND, Status.Code.ALREADY_EXISTS,
                        Status.Code.CANCELLED);
            } else {
                assertThat(status).as(code.name()).isIn(Status.Code.INTERNAL, Status.Code.UNAVAILABLE, Status.Code.RESOURCE_EXHAUSTED);
            }
        }
    }

    @Test
    void carriesTheCodeAndMessageButNoStackTrace() {
        StatusRuntimeException status = ErrorStatus.of(new CondenseException(ErrorCode.INVALID_MODEL, "not a model", new RuntimeException("inner")));
        assertThat(status.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
        assertThat(status.getStatus().getDescription()).isEqualTo("INVALID_MODEL: not a model");
        assertThat(status.getStatus().getCause()).isNull();
        assertThat(status.getTrailers().get(ErrorStatus.ERROR_CODE)).isEqualTo("INVALID_MODEL");
    }

    @Test
    void unexpectedFailuresSayNothingAboutTheirInsides() {
        StatusRuntimeException status = ErrorStatus.of(new NullPointerException("secret detail"));
        assertThat(status.getStatus().getCode()).isEqualTo(Status.Code.INTERNAL);
        assertThat(status.getStatus().getDescription()).doesNotContain("secret");
    }
}
