package io.condense.server.channel;

import static java.util.Objects.requireNonNull;

import com.google.protobuf.InvalidProtocolBufferException;
import io.condense.proto.v1.events.ChannelPush;
import io.condense.sdk.error.CondenseException;
import io.condense.server.bus.EventsSync;
import io.condense.server.bus.KafkaSettings;
import io.condense.server.bus.Topics;
import io.condense.server.job.JobView;
import io.condense.server.metrics.KafkaClientBinder;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.AuthorizationException;
import org.apache.kafka.common.errors.InvalidProducerEpochException;
import org.apache.kafka.common.errors.OutOfOrderSequenceException;
import org.apache.kafka.common.errors.ProducerFencedException;
import org.apache.kafka.common.errors.WakeupException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Turns the acknowledged pushes of the pushes topic into versions, in order: a member of one consumer group of every API
 * instance, so each channel's partition is sequenced by one instance at a time, and another takes it over when that one
 * dies. What one poll returns is read-process-write in ONE transaction, as a step is in a worker: the versions' records
 * ({@link PushMerger}) and the pushes' consumer offsets. A process killed before the commit leaves the push unconsumed, so
 * it is merged again after the restart and its version is queued once.
 */
public final class ChannelSequencer implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(ChannelSequencer.class);
    private static final String GROUP = "condense-channel-sequencers";
    private static final Duration SYNC_TIMEOUT = Duration.ofSeconds(10);
    private static final Duration RETRY_AFTER = Duration.ofSeconds(1);
    /** At most this many pushes per transaction. */
    private static final int BATCH = 100;

    private final PushMerger merger;
    private final ChannelView channels;
    private final JobView jobs;
    private final EventsSync eventsSync;
    private final KafkaConsumer<String, byte[]> consumer;
    private final KafkaProducer<String, byte[]> producer;
    private final Thread thread;
    private volatile boolean running = true;
    /** Set when a push failed half-way: the consumer must go back to the committed offsets before it reads on. */
    private boolean rewind;
    /** Why the sequencer stopped by itself (fenced); null while it runs. */
    private volatile String stoppedBecause;

    ChannelSequencer(PushMerger merger, ChannelView channels, JobView jobs, EventsSync eventsSync, KafkaSettings settings, String instanceId,
            KafkaClientBinder binder) {
        this.merger = requireNonNull(merger, "merger is null");
        this.channels = requireNonNull(channels, "channels is null");
        this.jobs = requireNonNull(jobs, "jobs is null");
        this.eventsSync = requireNonNull(eventsSync, "eventsSync is null");
        String name = "condense-sequencer-" + requireNonNull(instanceId, "instanceId is null");
        // a static member that takes its partitions back at once after a restart, as a step consumer, but with every push
        // waiting in one poll: a batch costs one transaction, and one merge per channel with latest-wins
        Map<String, Object> config = settings.stepConsumer(GROUP, name + "-consumer", name);
        config.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, BATCH);
        this.consumer = new KafkaConsumer<>(config);
        this.producer = new KafkaProducer<>(settings.transactionalProducer(name));
        binder.bind(consumer);
        binder.bind(producer);
        this.thread = new Thread(this::run, "condense-channel-sequencer");
        this.thread.setDaemon(true);
    }

    /** The sequencer of an API process. */
    public static ChannelSequencer of(io.condense.server.blob.BlobStore blobs, ChannelView channels, JobView jobs, EventsSync eventsSync,
            KafkaSettings settings, String instanceId, KafkaClientBinder binder) {
        return new ChannelSequencer(new PushMerger(blobs, channels), channels, jobs, eventsSync, settings, instanceId, binder);
    }

    public void start() {
        thread.start();
    }

    /** Why the sequencer stopped by itself (acknowledged pushes are no longer merged here); empty while it runs. */
    public Optional<String> problem() {
        if (stoppedBecause != null) {
            return Optional.of(stoppedBecause);
        }
        if (running && thread.getState() == Thread.State.TERMINATED) {
            return Optional.of("the channel sequencer stopped: acknowledged pushes are not merged into versions by this process");
        }
        return Optional.empty();
    }

    private void run() {
        try {
            producer.initTransactions();
            consumer.subscribe(List.of(Topics.PUSHES));
            while (running) {
                try {
                    if (rewind) {
                        rewindToCommitted();
                        rewind = false;
                    }
                    var records = consumer.poll(Duration.ofMillis(500));
                    if (records.isEmpty()) {
                        continue;
                    }
                    // what other instances (or this one before a rebalance) committed is in the views before a push is merged
                    catchUp();
                    sequence(records);
                } catch (ProducerFencedException | OutOfOrderSequenceException | AuthorizationException | InvalidProducerEpochException e) {
                    stoppedBecause = "the channel sequencer's Kafka producer was fenced or refused (" + e.getMessage() + ")";
                    log.error("Channel sequencer stopped: {}", stoppedBecause);
                    return;
                } catch (WakeupException e) {
                    if (!running) {
                        return;
                    }
                } catch (KafkaException | CondenseException e) {
                    // the broker or the blob store is away: the push is merged again from its last committed offset
                    log.warn("A push could not be turned into its version for now ({}); trying again in {} ms", e.toString(), RETRY_AFTER.toMillis());
                    abort();
                    rewind = true;
                    sleep();
                }
            }
        } catch (WakeupException e) {
            if (running) {
                log.error("Channel sequencer woken up unexpectedly", e);
            }
        } catch (RuntimeException e) {
            log.error("Channel sequencer stopped: {}", e.toString(), e);
        } finally {
            KafkaSettings.closeLeavingGroup(consumer, Duration.ofSeconds(5));
            producer.close(Duration.ofSeconds(5));
        }
    }

    /** A batch of pushes: their versions' records and the pushes' offsets in one transaction, then the views. */
    private void sequence(ConsumerRecords<String, byte[]> records) {
        List<ChannelPush> pushes = new ArrayList<>();
        Map<TopicPartition, OffsetAndMetadata> offsets = new HashMap<>();
        for (ConsumerRecord<String, byte[]> record : records) {
            offsets.put(new TopicPartition(record.topic(), record.partition()), new OffsetAndMetadata(record.offset() + 1));
            try {
                pushes.add(ChannelPush.parseFrom(record.value() == null ? new byte[0] : record.value()));
            } catch (InvalidProtocolBufferException e) {
                log.error("Skipping an unreadable push at {}-{} offset {}: {}", record.topic(), record.partition(), record.offset(), e.getMessage());
            }
        }
        List<SequencedVersion> versions = merger.sequence(pushes);
        producer.beginTransaction();
        versions.forEach(version -> version.records().forEach(producer::send));
        producer.sendOffsetsToTransaction(offsets, consumer.groupMetadata());
        producer.commitTransaction();
        for (SequencedVersion version : versions) {
            version.applyTo(channels, jobs);
            log.info("Channel {} version {} merged: {}", version.name(), version.version(), version.outcome());
        }
    }

    private void catchUp() {
        try {
            if (!EventsSync.await(eventsSync.latest(List.of(Topics.CHANNELS, Topics.EVENTS, Topics.PUSHES)), SYNC_TIMEOUT)) {
                throw new CondenseException(io.condense.sdk.error.ErrorCode.UNAVAILABLE, "the channel topics could not be read to their end in "
                        + SYNC_TIMEOUT.toSeconds() + " s");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new WakeupException();
        }
    }

    private void abort() {
        try {
            producer.abortTransaction();
        } catch (KafkaException | IllegalStateException e) {
            // no transaction was open, or the broker is still away: the next beginTransaction tells
            log.debug("No transaction to abort: {}", e.toString());
        }
    }

    /** Back to each assigned partition's committed offset, so nothing read after it is skipped; throws when Kafka does not answer. */
    private void rewindToCommitted() {
        Set<TopicPartition> assigned = consumer.assignment();
        Map<TopicPartition, OffsetAndMetadata> committed = consumer.committed(assigned);
        for (TopicPartition partition : assigned) {
            OffsetAndMetadata offset = committed.get(partition);
            if (offset == null) {
                consumer.seekToBeginning(List.of(partition));
            } else {
                consumer.seek(partition, offset.offset());
            }
        }
    }

    private void sleep() {
        try {
            Thread.sleep(RETRY_AFTER.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            running = false;
        }
    }

    @Override
    public void close() throws InterruptedException {
        running = false;
        consumer.wakeup();
        thread.join(10_000);
    }
}
