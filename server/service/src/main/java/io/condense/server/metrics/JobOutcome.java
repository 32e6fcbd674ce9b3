package io.condense.server.metrics;

/** How a job ended, as the {@code outcome} tag. */
public enum JobOutcome {
    COMPLETED("completed"),
    FAILED("failed"),
    CANCELLED("cancelled");

    private final String tag;

    JobOutcome(String tag) {
        this.tag = tag;
    }

    public String tag() {
        return tag;
    }
}
