package io.condense.server.worker;

import static java.util.Objects.requireNonNull;

import com.google.protobuf.InvalidProtocolBufferException;
import io.condense.proto.v1.JobError;
import io.condense.proto.v1.events.BusEvent;
import io.condense.proto.v1.events.StepFailed;
import io.condense.proto.v1.events.StepRequested;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
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
import java.util.Optional;
import java.util.function.BooleanSupplier;
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
    private final StepAttempts attempts;
    private final JobIntake intake;
    private final BooleanSupplier eventsCaughtUp;
    private final CountDownLatch subscribed = new CountDownLatch(1);
    private volatile boolean running = true;
    /** Why this step consumer stopped on its own (fenced, a broker error it cannot get over); null while it runs or when stopped. */
    private volatile String stoppedBecause;

    StepWorker(LoadedTechnique technique, StepRunner runner, JobFinisher finisher, Cancellations cancellations, StepMetrics metrics,
            EventSink sender, StepAttempts attempts, JobIntake intake, BooleanSupplier eventsCaughtUp, KafkaSettings settings, String instanceId,
            KafkaClientBinder binder) {
        this.technique = requireNonNull(technique, "technique is null");
        this.runner = requireNonNull(runner, "runner is null");
        this.finisher = requireNonNull(finisher, "finisher is null");
        this.cancellations = requireNonNull(cancellations, "cancellations is null");
        this.metrics = requireNonNull(metrics, "metrics is null");
        this.sender = requireNonNull(sender, "sender is null");
        this.attempts = requireNonNull(attempts, "attempts is null");
        this.intake = requireNonNull(intake, "intake is null");
        this.eventsCaughtUp = requireNonNull(eventsCaughtUp, "eventsCaughtUp is null");
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

    /** Why this step consumer stopped by itself, or empty while it runs (or was stopped by {@link #stop}). */
    Optional<String> failure() {
        return Optional.ofNullable(stoppedBecause);
    }

    @Override
    public void run() {
        try {
            producer.initTransactions();
            // the attempts of steps read before the first poll must be known, or a step that crashed workers runs again
            while (running && !eventsCaughtUp.getAsBoolean()) {
                Thread.sleep(50);
            }
            consumer.subscribe(List.of(Topics.steps(technique.id())));
            subscribed.countDown();
            while (running) {
                for (ConsumerRecord<String, byte[]> record : consumer.poll(Duration.ofMillis(500))) {
                    if (!running) {
                        break;
                    }
                    handleSafely(record);
                }
            }
        } catch (WakeupException e) {
            if (running) {
                stoppedBecause = "woken up unexpectedly";
                log.error("Worker for '{}' woken up unexpectedly", technique.id(), e);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            stoppedBecause = "interrupted";
        } catch (ProducerFencedException e) {
            stoppedBecause = "fenced: another process uses the transactional id of this worker (" + e.getMessage() + ")";
            log.error("Worker for '{}' stops: another worker with the same transactional id took over ({})", technique.id(), e.getMessage());
        } catch (Throwable e) {
            stoppedBecause = "stopped by an unexpected error: " + e;
            log.error("Worker for '{}' stops after an unexpected error", technique.id(), e);
        } finally {
            subscribed.countDown();
            closeQuietly();
        }
    }

    private void closeQuietly() {
        try {
            consumer.close(Duration.ofSeconds(5));
        } catch (RuntimeException e) {
            log.warn("Could not close the step consumer of '{}': {}", technique.id(), e.toString());
        }
        try {
            producer.close(Duration.ofSeconds(5));
        } catch (RuntimeException e) {
            log.warn("Could not close the producer of '{}': {}", technique.id(), e.toString());
        }
    }

    /**
     * Handles one step record; whatever goes wrong with this one job (short of Kafka telling this process it was
     * replaced) fails that job and leaves the thread running for the next.
     */
    private void handleSafely(ConsumerRecord<String, byte[]> record) {
        try {
            handle(record);
        } catch (ProducerFencedException | OutOfOrderSequenceException | AuthorizationException e) {
            throw e;
        } catch (Throwable e) {
            log.error("Step record at {}-{} offset {} (job {}) could not be handled; failing its job", record.topic(), record.partition(),
                    record.offset(), record.key(), e);
            StepRequested request;
            try {
                request = StepRequested.parseFrom(record.value());
            } catch (InvalidProtocolBufferException unreadable) {
                commit(record, List.of(new ProducerRecord<>(Topics.DEAD_LETTERS, record.key(), record.value())), null);
                return;
            }
            CondenseException error = Failures.classify(e, "step " + (request.getStepIndex() + 1) + " (" + technique.id() + ")");
            commit(record, failed(record, request, Events.error(request.getStepIndex() + 1, technique.id(), error)), JobOutcome.FAILED);
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
        switch (intake.admit(request)) {
            case WAIT -> {
                consumer.seek(partition, record.offset());
                return;
            }
            case SKIP -> {
                commit(record, List.of(), null);
                return;
            }
            case RUN -> {
                // below
            }
        }
        String jobId = request.getJobId();
        int stepIndex = request.getStepIndex();
        StepAttempts.History history = attempts.history(jobId, stepIndex);
        StepOutcome decided;
        if (history.cutOff() >= StepAttempts.CRASH_LIMIT) {
            CondenseException crashed = new CondenseException(ErrorCode.INTERNAL_ERROR, "step " + (stepIndex + 1) + " (" + technique.id()
                    + ") stopped its worker " + history.cutOff() + " times before it could finish (workers " + history.workers()
                    + "): the process died (killed, out of memory or a crash in native code); it is not run again, and its step "
                    + "message is in " + Topics.DEAD_LETTERS);
            log.error("Job {}: {}", jobId, crashed.getMessage());
            decided = StepOutcome.of(request, technique, new StepExecution.Failed(Events.error(stepIndex + 1, technique.id(), crashed)),
                    cancellations, finisher);
        } else {
            decided = StepOutcome.of(request, technique, StepOutcome.execute(runner, request, technique), cancellations, finisher);
        }
        commit(record, records(record, request, decided), decided.outcome());
    }

    /** What a job's failure writes: its events and the step message on the dead letters. */
    private List<ProducerRecord<String, byte[]>> failed(ConsumerRecord<String, byte[]> record, StepRequested request, JobError error) {
        return records(record, request, StepOutcome.of(request, technique, new StepExecution.Failed(error), cancellations, finisher));
    }

    /** The records of an outcome, in the order the transaction writes them: events, the next step, the dead letter. */
    private List<ProducerRecord<String, byte[]>> records(ConsumerRecord<String, byte[]> record, StepRequested request, StepOutcome decided) {
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
        return out;
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
                metrics.recordJob(outcome, Duration.ofMillis(System.currentTimeMillis() - submittedAtMs(record)));
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
            announceRetry(record, e);
            consumer.seek(partition, record.offset());
        }
    }

    private static long submittedAtMs(ConsumerRecord<String, byte[]> record) {
        try {
            long submitted = StepRequested.parseFrom(record.value()).getSpec().getSubmittedAtMs();
            return submitted > 0 ? submitted : System.currentTimeMillis();
        } catch (InvalidProtocolBufferException e) {
            return System.currentTimeMillis();
        }
    }

    /** Ends the attempt the step's StepStarted began, so running the step again is not counted as a worker that died. */
    private void announceRetry(ConsumerRecord<String, byte[]> record, KafkaException cause) {
        try {
            StepRequested request = StepRequested.parseFrom(record.value());
            CondenseException error = new CondenseException(ErrorCode.UNAVAILABLE, "the outcome could not be written to Kafka ("
                    + cause.getMessage() + "); the step runs again");
            sender.send(Events.event(request.getJobId()).setStepFailed(StepFailed.newBuilder().setStepIndex(request.getStepIndex())
                    .setTechnique(technique.id()).setError(Events.error(request.getStepIndex() + 1, technique.id(), error))
                    .setWillRetry(true)).build());
        } catch (InvalidProtocolBufferException e) {
            // an unreadable record never started a step
        }
    }

    void stop() {
        running = false;
        consumer.wakeup();
    }
}
