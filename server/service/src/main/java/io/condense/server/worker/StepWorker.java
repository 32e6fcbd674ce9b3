package io.condense.server.worker;

import static java.util.Objects.requireNonNull;

import com.google.protobuf.InvalidProtocolBufferException;
import io.condense.proto.v1.JobError;
import io.condense.proto.v1.events.BusEvent;
import io.condense.proto.v1.events.StepRequested;
import io.condense.server.bus.EventSink;
import io.condense.server.bus.Events;
import io.condense.server.bus.KafkaSettings;
import io.condense.server.bus.Topics;
import io.condense.server.metrics.JobOutcome;
import io.condense.server.metrics.StepMetrics;
import io.condense.server.plugin.LoadedTechnique;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import io.condense.server.metrics.KafkaClientBinder;
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
 * Consumes the step topic of one technique (read_committed), runs each step, and writes its outcome in
 * ONE transaction: the step's result, then the next step's request or the job's end, and the consumer
 * offset. A worker killed mid-step never commits, so the step is run again after a restart and its
 * outcome is written once.
 */
final class StepWorker implements Runnable {
    private static final Logger log = LoggerFactory.getLogger(StepWorker.class);

    private final LoadedTechnique technique;
    private final StepRunner runner;
    private final JobFinisher finisher;
    private final Cancellations cancellations;
    private final StepMetrics metrics;
    private final EventSink sender;
    private final KafkaConsumer<String, byte[]> consumer;
    private final KafkaProducer<String, byte[]> producer;
    private final CountDownLatch subscribed = new CountDownLatch(1);
    private volatile boolean running = true;

    StepWorker(LoadedTechnique technique, StepRunner runner, JobFinisher finisher, Cancellations cancellations, StepMetrics metrics,
            EventSink sender, KafkaSettings settings, String instanceId, KafkaClientBinder binder) {
        this.technique = requireNonNull(technique, "technique is null");
        this.runner = requireNonNull(runner, "runner is null");
        this.finisher = requireNonNull(finisher, "finisher is null");
        this.cancellations = requireNonNull(cancellations, "cancellations is null");
        this.metrics = requireNonNull(metrics, "metrics is null");
        this.sender = requireNonNull(sender, "sender is null");
        String name = "condense-worker-" + technique.id() + "-" + instanceId;
        this.consumer = new KafkaConsumer<>(settings.stepConsumer("condense-workers-" + technique.id(), name + "-consumer", name));
        this.producer = new KafkaProducer<>(settings.transactionalProducer(name));
        binder.bind(consumer);
        binder.bind(producer);
    }

    String techniqueId() {
        return technique.id();
    }

    boolean awaitSubscribed(Duration timeout) throws InterruptedException {
        return subscribed.await(timeout.toMillis(), TimeUnit.MILLISECONDS);
    }

    @Override
    public void run() {
        try {
            producer.initTransactions();
            consumer.subscribe(List.of(Topics.steps(technique.id())));
            subscribed.countDown();
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
                log.error("Worker for '{}' woken up unexpectedly", technique.id(), e);
            }
        } catch (ProducerFencedException e) {
            log.error("Worker for '{}' stops: another worker with the same transactional id took over ({})", technique.id(), e.getMessage());
        } catch (RuntimeException e) {
            log.error("Worker for '{}' stops after an unexpected error", technique.id(), e);
        } finally {
            subscribed.countDown();
            consumer.close(Duration.ofSeconds(5));
            producer.close(Duration.ofSeconds(5));
        }
    }

    private void handle(ConsumerRecord<String, byte[]> record) {
        TopicPartition partition = new TopicPartition(record.topic(), record.partition());
        StepRequested request;
        try {
            request = StepRequested.parseFrom(record.value());
        } catch (InvalidProtocolBufferException e) {
            log.error("Sending an unreadable step message at {} offset {} to {}", partition, record.offset(), Topics.DEAD_LETTERS);
            commit(record, List.of(new ProducerRecord<>(Topics.DEAD_LETTERS, record.key(), record.value())), null);
            return;
        }
        StepOutcome decided = StepOutcome.of(request, technique, StepOutcome.execute(runner, request, technique), cancellations, finisher);
        List<ProducerRecord<String, byte[]>> out = new ArrayList<>();
        for (BusEvent event : decided.events()) {
            out.add(Events.record(event));
        }
        if (decided.next() != null) {
            out.add(Events.stepRecord(decided.next()));
        }
        if (decided.failure() != null) {
            out.add(deadLetter(record, request, decided.failure()));
        }
        commit(record, out, decided.outcome());
    }

    private ProducerRecord<String, byte[]> deadLetter(ConsumerRecord<String, byte[]> record, StepRequested request, JobError error) {
        ProducerRecord<String, byte[]> deadLetter = new ProducerRecord<>(Topics.DEAD_LETTERS, request.getJobId(), record.value());
        deadLetter.headers()
                .add("condense.technique", technique.id().getBytes(StandardCharsets.UTF_8))
                .add("condense.step", Integer.toString(request.getStepIndex() + 1).getBytes(StandardCharsets.UTF_8))
                .add("condense.error.code", error.getCode().getBytes(StandardCharsets.UTF_8))
                .add("condense.error.message", error.getMessage().getBytes(StandardCharsets.UTF_8));
        return deadLetter;
    }

    /** Writes the outcome and the consumer offset in one transaction; on a broker error the step is read again. */
    private void commit(ConsumerRecord<String, byte[]> record, List<ProducerRecord<String, byte[]>> out, JobOutcome outcome) {
        TopicPartition partition = new TopicPartition(record.topic(), record.partition());
        // the step's started and progress events go first, so watchers see them before its outcome
        sender.flush();
        try {
            producer.beginTransaction();
            for (ProducerRecord<String, byte[]> item : out) {
                producer.send(item);
            }
            producer.sendOffsetsToTransaction(Map.of(partition, new OffsetAndMetadata(record.offset() + 1)), consumer.groupMetadata());
            producer.commitTransaction();
            if (outcome != null) {
                metrics.recordJob(outcome);
            }
        } catch (ProducerFencedException | OutOfOrderSequenceException | AuthorizationException e) {
            throw e;
        } catch (KafkaException e) {
            log.warn("Could not commit the outcome of job {} step at {} offset {}; it will be run again: {}", record.key(), partition,
                    record.offset(), e.toString());
            try {
                producer.abortTransaction();
            } catch (KafkaException abortFailure) {
                log.warn("Could not abort the transaction: {}", abortFailure.toString());
            }
            consumer.seek(partition, record.offset());
        }
    }

    void stop() {
        running = false;
        consumer.wakeup();
    }
}
