package io.condense.server.bus;

/** The Kafka topics of Condense. */
public final class Topics {
    /** Job lifecycle events ({@code BusEvent}), key = job id. */
    public static final String EVENTS = "condense.events";
    /** Steps that failed for good ({@code StepRequested}), key = job id. */
    public static final String DEAD_LETTERS = "condense.steps.dlq";

    /**
     * The state of every channel ({@code ChannelState}), key = channel name, compacted: the newest record of a channel is
     * its state, a tombstone (null value) deletes it.
     */
    public static final String CHANNELS = "condense.channels";

    /**
     * Pushes acknowledged and not yet merged ({@code ChannelPush}), key = channel name, so a channel's pushes are in one
     * partition in version order; consumed by the channel sequencers' group, which turns each into its version's job.
     */
    public static final String PUSHES = "condense.channels.pushes";

    /** Holds no records: the consumer groups of running processes' instance ids subscribe to it. */
    public static final String INSTANCES = "condense.instances";

    private static final String STEPS_PREFIX = "condense.steps.";

    private Topics() {
    }

    /** Work for one technique ({@code StepRequested}), key = job id. */
    public static String steps(String techniqueId) {
        return STEPS_PREFIX + techniqueId;
    }
}
