package io.condense.server.bus;

import io.condense.proto.v1.JobError;
import io.condense.proto.v1.events.BusEvent;
import io.condense.proto.v1.events.ChannelPush;
import io.condense.proto.v1.events.ChannelState;
import io.condense.proto.v1.events.StepRequested;
import io.condense.sdk.error.CondenseException;
import org.apache.kafka.clients.producer.ProducerRecord;

/** Builds the records Condense writes. */
public final class Events {
    private Events() {
    }

    public static BusEvent.Builder event(String jobId) {
        return BusEvent.newBuilder().setJobId(jobId).setTimeMs(System.currentTimeMillis());
    }

    public static ProducerRecord<String, byte[]> record(BusEvent event) {
        return new ProducerRecord<>(Topics.EVENTS, event.getJobId(), event.toByteArray());
    }

    /** The record of a channel's state on the compacted channels topic; a null state is the tombstone that deletes it. */
    public static ProducerRecord<String, byte[]> channelRecord(String name, ChannelState state) {
        return new ProducerRecord<>(Topics.CHANNELS, name, state == null ? null : state.toByteArray());
    }

    /** The record of an acknowledged push, keyed by channel name so that a channel's pushes stay in order. */
    public static ProducerRecord<String, byte[]> pushRecord(ChannelPush push) {
        return new ProducerRecord<>(Topics.PUSHES, push.getChannel(), push.toByteArray());
    }

    public static ProducerRecord<String, byte[]> stepRecord(StepRequested request) {
        String technique = request.getSpec().getSteps(request.getStepIndex()).getTechnique();
        return new ProducerRecord<>(Topics.steps(technique), request.getJobId(), request.toByteArray());
    }

    /** A failure as the API reports it. */
    public static JobError error(int stepNumber, String technique, CondenseException exception) {
        return JobError.newBuilder()
                .setStep(stepNumber)
                .setTechnique(technique)
                .setCode(exception.code().name())
                .setCategory(exception.category().name())
                .setMessage(exception.getMessage())
                .setRetriable(exception.retriable())
                .build();
    }
}
