package io.condense.server.metrics;

/** How a step ended, as the {@code outcome} tag. */
public enum StepOutcome {
    SUCCESS("success"),
    FAILURE("failure"),
    CANCELLED("cancelled");

    private final String tag;

    StepOutcome(String tag) {
        this.tag = tag;
    }

    public String tag() {
        return tag;
    }
}
