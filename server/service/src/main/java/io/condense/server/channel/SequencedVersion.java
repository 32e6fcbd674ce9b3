package io.condense.server.channel;

import io.condense.proto.v1.events.BusEvent;
import io.condense.proto.v1.events.ChannelState;
import io.condense.proto.v1.events.StepRequested;
import io.condense.server.bus.Events;
import io.condense.server.job.JobView;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.apache.kafka.clients.producer.ProducerRecord;

/**
 * What the sequencer writes for one push, in the transaction of its batch: the channel's new state when this is the
 * channel's last version of the batch (its number and merged weights), the version's {@code JobSubmitted}, then either its
 * first step and the cancellation of the versions it supersedes, or the events that end it at once (superseded by a newer
 * push already acknowledged, or failed to merge).
 *
 * @param name the channel's name
 * @param version the version's number
 * @param state the channel's state after this version; empty when a later version of the same batch writes it
 * @param submitted the version's job
 * @param firstStep the job's first step; empty when the version ends at once
 * @param after the events after the submission: cancellations of the versions it supersedes, or its own end
 */
record SequencedVersion(String name, long version, Optional<ChannelState> state, BusEvent submitted, Optional<StepRequested> firstStep,
        List<BusEvent> after) {

    SequencedVersion {
        after = List.copyOf(after);
    }

    List<ProducerRecord<String, byte[]>> records() {
        List<ProducerRecord<String, byte[]>> records = new ArrayList<>();
        state.ifPresent(next -> records.add(Events.channelRecord(name, next)));
        records.add(Events.record(submitted));
        firstStep.ifPresent(step -> records.add(Events.stepRecord(step)));
        after.forEach(event -> records.add(Events.record(event)));
        return records;
    }

    /** Once committed: seen at once by this instance's views (the events reader hands the same records over again later; both ignore repeats). */
    void applyTo(ChannelView channels, JobView jobs) {
        state.ifPresent(next -> channels.onChannelState(name, next, true));
        channels.onEvent(submitted, true);
        jobs.accept(submitted.getJobId(), submitted.getJobSubmitted().getSpec(), submitted.getTimeMs());
        after.forEach(event -> channels.onEvent(event, true));
    }

    /** What became of the version, for the log. */
    String outcome() {
        if (firstStep.isPresent()) {
            return "queued as job " + submitted.getJobId() + (after.isEmpty() ? "" : ", cancelling " + after.size() + " waiting version(s)");
        }
        return after.stream().anyMatch(BusEvent::hasJobFailed) ? "failed: " + after.get(0).getJobFailed().getError().getMessage()
                : "superseded at once by a newer push";
    }
}
