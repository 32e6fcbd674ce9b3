package io.condense.server.search;

import static java.util.Objects.requireNonNull;

import com.google.protobuf.InvalidProtocolBufferException;
import io.condense.proto.v1.events.BusEvent;
import io.condense.proto.v1.events.StepRequested;
import io.condense.server.bus.CommittedEvents;
import io.condense.server.bus.EventSink;
import io.condense.server.bus.Events;
import io.condense.server.bus.KafkaSettings;
import io.condense.server.bus.Topics;
import io.condense.server.metrics.KafkaClientBinder;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.BooleanSupplier;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.AuthorizationException;
import org.apache.kafka.common.errors.OutOfOrderSequenceException;
import org.apache.kafka.common.errors.ProducerFencedException;
import org.apache.kafka.common.errors.WakeupException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Consumes {@code condense.steps.search} in an API process (consumer group {@code condense-searches}, so each search job
 * is run by one API process at a time and taken over when that process dies), runs each search job's step
 * ({@link SearchStep}) and writes the job's end with the record's offset in ONE transaction. A process killed mid-search
 * commits nothing: the record is delivered again, to it after a restart or to another API process, and the search runs
 * again under the same key, so every candidate it had submitted answers from its job (finished ones with their reports)
 * instead of running again.
 */
public final class SearchWorker implements Runnable, AutoCloseable {
    /** The consumer group of every API process's search consumers. */
    public static final String GROUP = "condense-searches";

    private static final Logger log = LoggerFactory.getLogger(SearchWorker.class);

    private final SearchStep step;
    private final EventSink sender;
    private final CommittedEvents committed;
    private final BooleanSupplier eventsCaughtUp;
    private final KafkaConsumer<String, byte[]> consumer;
    private final KafkaProducer<String, byte[]> producer;
    private final Thread thread;
    private volatile boolean running = true;
    private volatile String stoppedBecause;

    /**
     * @param eventsCaughtUp true once this process's job view has read the events topic (a search's cancellation is known)
     * @param committed this process's job view, told of an outcome as soon as it is committed
     */
    public SearchWorker(SearchStep step, EventSink sender, CommittedEvents committed, BooleanSupplier eventsCaughtUp,
            KafkaSettings settings, String instanceId, KafkaClientBinder binder) {
        this.step = requireNonNull(step, "step is null");
        this.sender = requireNonNull(sender, "sender is null");
        this.committed = requireNonNull(committed, "committed is null");
        this.eventsCaughtUp = requireNonNull(eventsCaughtUp, "eventsCaughtUp is null");
        String name = "condense-search-" + instanceId;
        this.consumer = new KafkaConsumer<>(settings.stepConsumer(GROUP, name + "-consumer", name));
        this.producer = new KafkaProducer<>(settings.transactionalProducer(name));
        binder.bind(consumer);
        binder.bind(producer);
        this.thread = new Thread(this, name);
        thread.setDaemon(true);
    }

    public void start() {
        thread.start();
    }

    /** Why the search consumer stopped by itself (fenced, an unexpected error); empty while it runs. */
    public Optional<String> problem() {
        return Optional.ofNullable(stoppedBecause);
    }

    @Override
    public void run() {
        try {
            producer.initTransactions();
            while (running && !eventsCaughtUp.getAsBoolean()) {
                Thread.sleep(50);
            }
            consumer.subscribe(List.of(Topics.steps(SearchStep.TECHNIQUE)));
            while (running) {
                for (ConsumerRecord<String, byte[]> record : consumer.poll(Duration.ofMillis(500))) {
                    if (!running) {
                        break;
                    }
                    handle(record);
                }
            }
        } catch (WakeupException e) {
            if (running) {
                stoppedBecause = "woken up unexpectedly";
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            stoppedBecause = "interrupted";
        } catch (ProducerFencedException | OutOfOrderSequenceException | AuthorizationException e) {
            stoppedBecause = "the search consumer cannot write any more: " + e.getMessage();
            log.error("The search consumer stops: {}", e.toString());
        } catch (RuntimeException e) {
            stoppedBecause = "stopped by an unexpected error: " + e;
            log.error("The search consumer stops after an unexpected error", e);
        } finally {
            closeQuietly();
        }
    }

    private void handle(ConsumerRecord<String, byte[]> record) {
        List<BusEvent> outcome;
        try {
            outcome = step.run(StepRequested.parseFrom(record.value()));
        } catch (InvalidProtocolBufferException e) {
            log.error("Sending an unreadable search record at offset {} to {}", record.offset(), Topics.DEAD_LETTERS);
            commit(record, List.of(), List.of(new ProducerRecord<>(Topics.DEAD_LETTERS, record.key(), record.value())));
            return;
        }
        if (!running) {
            // stopping: the search's candidates were left to run; the next process to take the record resumes it
            return;
        }
        commit(record, outcome, outcome.stream().map(Events::record).toList());
    }

    private void commit(ConsumerRecord<String, byte[]> record, List<BusEvent> events, List<ProducerRecord<String, byte[]>> out) {
        TopicPartition partition = new TopicPartition(record.topic(), record.partition());
        sender.flush();
        try {
            producer.beginTransaction();
            out.forEach(producer::send);
            producer.sendOffsetsToTransaction(Map.of(partition, new OffsetAndMetadata(record.offset() + 1)), consumer.groupMetadata());
            producer.commitTransaction();
            committed.committed(events);
        } catch (ProducerFencedException | OutOfOrderSequenceException | AuthorizationException e) {
            throw e;
        } catch (KafkaException e) {
            log.warn("Could not commit the end of search job {}; it runs again (resuming its candidates): {}", record.key(), e.toString());
            try {
                producer.abortTransaction();
            } catch (KafkaException abortFailure) {
                log.warn("Could not abort the transaction: {}", abortFailure.toString());
            }
            consumer.seek(partition, record.offset());
        }
    }

    private void closeQuietly() {
        try {
            KafkaSettings.closeLeavingGroup(consumer, Duration.ofSeconds(5));
        } catch (RuntimeException e) {
            log.warn("Could not close the search consumer: {}", e.toString());
        }
        try {
            producer.close(Duration.ofSeconds(5));
        } catch (RuntimeException e) {
            log.warn("Could not close the search producer: {}", e.toString());
        }
    }

    @Override
    public void close() throws InterruptedException {
        running = false;
        consumer.wakeup();
        thread.join(10_000);
    }
}
