package io.condense.server.api;

import io.condense.proto.v1.events.BusEvent;
import io.condense.proto.v1.events.StepRequested;

/**
 * Where the API writes what it decides: a job and its first step, a cancellation. {@link SubmitPublisher} writes them
 * to Kafka in a transaction; {@code io.condense.server.worker.InProcessBus} hands them to an in-process worker for a
 * one-shot local run. Either returns only once the decision is durable for its transport.
 */
public interface JobPublisher {

    void submit(BusEvent submitted, StepRequested firstStep);

    void publish(BusEvent event);
}
