package io.condense.sdk.error;

import static io.condense.sdk.error.ErrorCategory.EXTERNAL;
import static io.condense.sdk.error.ErrorCategory.INTERNAL;
import static io.condense.sdk.error.ErrorCategory.RESOURCE;
import static io.condense.sdk.error.ErrorCategory.USER;

/**
 * Every failure Condense reports carries one of these codes. The category says who acts on it and
 * {@link #retriable()} whether the same step may succeed when run again unchanged.
 */
public enum ErrorCode {
    /** The bytes are not a parseable ONNX model. */
    INVALID_MODEL(USER, false),
    /** The model file or upload ends before its declared content does. */
    TRUNCATED_MODEL(USER, false),
    /** A tensor's declared shape and type disagree with the bytes it carries. */
    TENSOR_SIZE_MISMATCH(USER, false),
    /** An external-data location points outside the model's folder, or the file is missing. */
    INVALID_EXTERNAL_DATA(USER, false),
    /** The model has nothing this technique can change (no weights it understands). */
    NOTHING_TO_COMPRESS(USER, false),
    /** An operator, domain or data type the technique cannot handle. */
    UNSUPPORTED_MODEL(USER, false),
    /** One or more parameters are unknown, malformed or out of range. */
    INVALID_PARAMETER(USER, false),
    /** A pipeline names a technique that is not loaded. */
    UNKNOWN_TECHNIQUE(USER, false),
    /** The pipeline text cannot be parsed. */
    INVALID_PIPELINE(USER, false),
    /** Evaluation or calibration data cannot be read or does not fit the model. */
    INVALID_DATA(USER, false),
    /** The technique needs data (for example calibration) that the request did not supply. */
    DATA_REQUIRED(USER, false),
    /** A model, blob or job id that is not known. */
    NOT_FOUND(USER, false),
    /** A client request id already names a different request (a retry must repeat the same request). */
    ALREADY_EXISTS(USER, false),
    /** The job was cancelled. */
    CANCELLED(USER, false),
    /** Memory, disk or a size limit was exceeded. */
    RESOURCE_EXHAUSTED(RESOURCE, true),
    /** The native runtime (ONNX Runtime) refused or failed to run a model. */
    RUNTIME_FAILURE(EXTERNAL, false),
    /** Storage or messaging was unavailable for a while. */
    UNAVAILABLE(EXTERNAL, true),
    /** A plugin could not be loaded or threw something unexpected. */
    PLUGIN_FAILURE(INTERNAL, false),
    /** A bug. */
    INTERNAL_ERROR(INTERNAL, false);

    private final ErrorCategory category;
    private final boolean retriable;

    ErrorCode(ErrorCategory category, boolean retriable) {
        this.category = category;
        this.retriable = retriable;
    }

    public ErrorCategory category() {
        return category;
    }

    public boolean retriable() {
        return retriable;
    }
}
