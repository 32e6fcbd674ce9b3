package io.condense.sdk.error;

import static java.util.Objects.requireNonNull;

/**
 * The one exception type techniques and the host throw on purpose. The message is written for a
 * person: it says what is wrong and, where it can, what to do about it.
 */
public class CondenseException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final ErrorCode code;

    public CondenseException(ErrorCode code, String message) {
        this(code, message, null);
    }

    public CondenseException(ErrorCode code, String message, Throwable cause) {
        super(requireNonNull(message, "message is null"), cause);
        this.code = requireNonNull(code, "code is null");
    }

    public ErrorCode code() {
        return code;
    }

    public ErrorCategory category() {
        return code.category();
    }

    public boolean retriable() {
        return code.retriable();
    }

    @Override
    public String toString() {
        return code + ": " + getMessage();
    }
}
