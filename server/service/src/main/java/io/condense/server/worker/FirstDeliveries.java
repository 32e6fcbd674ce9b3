package io.condense.server.worker;

import static java.util.Objects.requireNonNull;

import java.time.Duration;
import java.util.Collection;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Which step records reach a worker for the first time: those no consumer of the group could have read before this one
 * got their partition (at or past the partition's last stable offset when it was assigned; a read_committed consumer
 * sees nothing beyond it), and that this consumer has not run before (a record read again after a failed commit is
 * not). Only such a step is chained ({@link StepChain}).
 *
 * <p>Why not ask the events topic whether a step was attempted before: a restarted process may decide before its events
 * reader has read the attempts of the process that died (the events topic's records can stay unreadable behind a
 * transaction the dead process left open, until the broker aborts it). The offsets need no other topic: a record that
 * was readable before the assignment may be one that a worker died running (or chaining), so it runs on its own, one
 * step per transaction, and a crash is blamed on the step that caused it ({@link StepAttempts}).
 */
final class FirstDeliveries implements ConsumerRebalanceListener {
    private static final Logger log = LoggerFactory.getLogger(FirstDeliveries.class);
    private static final Duration END_OFFSETS_TIMEOUT = Duration.ofSeconds(10);

    private final Consumer<?, ?> consumer;
    /** Per assigned partition, the first offset this consumer has not been handed yet and no one could read before. */
    private final Map<TopicPartition, Long> firstFrom = new ConcurrentHashMap<>();

    FirstDeliveries(Consumer<?, ?> consumer) {
        this.consumer = requireNonNull(consumer, "consumer is null");
    }

    @Override
    public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
        if (partitions.isEmpty()) {
            return;
        }
        try {
            // the last stable offsets for a read_committed consumer
            firstFrom.putAll(consumer.endOffsets(partitions, END_OFFSETS_TIMEOUT));
        } catch (KafkaException e) {
            // without them no record of these partitions is known to be new: none is chained, each runs on its own
            log.warn("End offsets of {} unknown ({}); their steps are not chained", partitions, e.toString());
            partitions.forEach(partition -> firstFrom.put(partition, Long.MAX_VALUE));
        }
    }

    @Override
    public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
        partitions.forEach(firstFrom::remove);
    }

    @Override
    public void onPartitionsLost(Collection<TopicPartition> partitions) {
        onPartitionsRevoked(partitions);
    }

    /**
     * Whether {@code record} reaches a worker for the first time; from now on it does not (call once, when its step is
     * about to run).
     */
    boolean take(ConsumerRecord<?, ?> record) {
        TopicPartition partition = new TopicPartition(record.topic(), record.partition());
        Long from = firstFrom.get(partition);
        if (from == null || record.offset() < from) {
            return false;
        }
        firstFrom.put(partition, record.offset() + 1);
        return true;
    }
}
