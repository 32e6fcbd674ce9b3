package io.condense.sdk.error;

/** Who has to act on a failure. */
public enum ErrorCategory {
    /** The request, the model, the data or a parameter is wrong: the user fixes it; retrying does not help. */
    USER,
    /** A bug in Condense or in a plugin. */
    INTERNAL,
    /** Memory, disk or time ran out; may succeed later or with a smaller input. */
    RESOURCE,
    /** Something outside Condense failed: the broker, the blob store, a native runtime. */
    EXTERNAL
}
