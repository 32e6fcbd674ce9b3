package io.condense.server.api;

import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;

/**
 * The one place that turns Condense errors into gRPC statuses. The description is the error code and
 * the message written for a person; the code also travels in the {@code condense-error-code} trailer.
 * Clients never receive stack traces.
 */
public final class ErrorStatus {
    public static final Metadata.Key<String> ERROR_CODE = Metadata.Key.of("condense-error-code", Metadata.ASCII_STRING_MARSHALLER);

    private ErrorStatus() {
    }

    public static Status.Code grpcCode(ErrorCode code) {
        return switch (code) {
            case INVALID_MODEL, TRUNCATED_MODEL, TENSOR_SIZE_MISMATCH, INVALID_EXTERNAL_DATA, NOTHING_TO_COMPRESS, UNSUPPORTED_MODEL,
                    INVALID_PARAMETER, UNKNOWN_TECHNIQUE, INVALID_PIPELINE, INVALID_DATA, DATA_REQUIRED -> Status.Code.INVALID_ARGUMENT;
            case NOT_FOUND -> Status.Code.NOT_FOUND;
            case ALREADY_EXISTS -> Status.Code.ALREADY_EXISTS;
            case CANCELLED -> Status.Code.CANCELLED;
            case RESOURCE_EXHAUSTED -> Status.Code.RESOURCE_EXHAUSTED;
            case UNAVAILABLE -> Status.Code.UNAVAILABLE;
            case RUNTIME_FAILURE, PLUGIN_FAILURE, INTERNAL_ERROR -> Status.Code.INTERNAL;
        };
    }

    public static StatusRuntimeException of(CondenseException exception) {
        Metadata trailers = new Metadata();
        trailers.put(ERROR_CODE, exception.code().name());
        return Status.fromCode(grpcCode(exception.code()))
                .withDescription(exception.code().name() + ": " + exception.getMessage())
                .asRuntimeException(trailers);
    }

    /** Any failure as a status: Condense errors by their code, gRPC statuses as they are, anything else as INTERNAL without detail. */
    public static StatusRuntimeException of(Throwable failure) {
        if (failure instanceof CondenseException condense) {
            return of(condense);
        }
        if (failure instanceof StatusRuntimeException status) {
            return status;
        }
        if (failure instanceof io.grpc.StatusException status) {
            return status.getStatus().asRuntimeException(status.getTrailers());
        }
        return Status.INTERNAL.withDescription("INTERNAL_ERROR: an unexpected server error; the server log has the details").asRuntimeException();
    }
}
