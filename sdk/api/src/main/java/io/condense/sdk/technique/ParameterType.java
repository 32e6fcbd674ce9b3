package io.condense.sdk.technique;

/** The type of a technique parameter. Values arrive as text (from a pipeline or an API call) and are parsed by type. */
public enum ParameterType {
    INTEGER,
    DOUBLE,
    BOOLEAN,
    STRING,
    /** One of a fixed list of choices. */
    CHOICE,
    /** A comma-separated list of strings, for example name patterns. */
    STRING_LIST
}
