package io.condense.server.worker;

import static java.util.Objects.requireNonNull;

import com.google.protobuf.InvalidProtocolBufferException;
import io.condense.proto.v1.JobError;
import io.condense.proto.v1.events.BusEvent;
import io.condense.proto.v1.events.StepFailed;
import io.condense.proto.v1.events.StepRequested;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.server.bus.CommittedEvents;
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
import org.apache.kafka.clients.producer.ProducerConfig;
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
 * Consumes the step topic of one technique (read_committed), runs each step (and the job's next steps that this
 * process can run, {@link StepChain}), and writes its outcome in ONE transaction: the steps' results, then the next
 * step's request or the job's end, and the consumer offset. A worker killed mid-step never commits, so the step is run
 * again after a restart and its outcome is written once.
 */
final class StepWorker implements Runnable {
    private static final Logger log = LoggerFactory.getLogger(StepWorker.class);

    private final LoadedTechnique technique;
    private final StepChain chain;
    private final JobFinisher finisher;
    private final Cancellations cancellations;
    private final StepMetrics metrics;
    private final EventSink sender;
    private final KafkaConsumer<String, byte[]> consumer;
    private final FirstDeliveries firstDeliveries;
    private final KafkaProducer<String, byte[]> producer;
    /** Adds a step record's offset to its transaction while the step runs. */
    private final EarlyOffsets early;
    /** The transaction opened early for the record being handled; null when none is. */
    private EarlyOffsets.Open opened;
    private final StepAttempts attempts;
    private final JobIntake intake;
    private final BooleanSupplier eventsCaughtUp;
    private final CommittedEvents committed;
    /** Step records being handled by this process's step consumers, this one included. */
    /**
     * How many other running steps a chain may run beside. One: a channel's newest version, pushed while the version before
     * it is in its last step, runs all its steps at once instead of one Kafka hop per step, each hop waiting behind that
     * last step on its technique's consumers. Measured (integration-tests README, "Chaining beside one other step"): the
     * newest of 20 paced pushes compressed within 2 step-times in 11 of 12 runs against 8 of 12 with none beside, and 4
     * concurrent clients' jobs per second no lower.
     */
    static final int CHAIN_BESIDE = 1;

    private final java.util.concurrent.atomic.AtomicInteger busy;
    private final CountDownLatch subscribed = new CountDownLatch(1);
    private volatile boolean running = true;
    /** Why this step consumer stopped on its own (fenced, a broker error it cannot get over); null while it runs or when stopped. */
    private volatile String stoppedBecause;

    StepWorker(LoadedTechnique technique, StepChain chain, JobFinisher finisher, Cancellations cancellations, StepMetrics metrics,
            EventSink sender, StepAttempts attempts, JobIntake intake, BooleanSupplier eventsCaughtUp, CommittedEvents committed,
            java.util.concurrent.atomic.AtomicInteger busy, KafkaSettings settings, String instanceId, KafkaClientBinder binder) {
        this.technique = requireNonNull(technique, "technique is null");
        this.chain = requireNonNull(chain, "chain is null");
        this.finisher = requireNonNull(finisher, "finisher is null");
        this.cancellations = requireNonNull(cancellations, "cancellations is null");
        this.metrics = requireNonNull(metrics, "metrics is null");
        this.sender = requireNonNull(sender, "sender is null");
        this.attempts = requireNonNull(attempts, "attempts is null");
        this.intake = requireNonNull(intake, "intake is null");
        this.eventsCaughtUp = requireNonNull(eventsCaughtUp, "eventsCaughtUp is null");
        this.committed = requireNonNull(committed, "committed is null");
        this.busy = requireNonNull(busy, "busy is null");
        String name = "condense-worker-" + technique.id() + "-" + instanceId;
        this.consumer = new KafkaConsumer<>(settings.stepConsumer("condense-workers-" + technique.id(), name + "-consumer", name));
        this.firstDeliveries = new FirstDeliveries(consumer);
        Map<String, Object> producerConfig = settings.transactionalProducer(name);
        // an early transaction (EarlyOffsets) is given up after EarlyOffsets.HOLD; a crashed worker's open one is aborted
        // by the broker after this, so a consumer taking its partitions over waits no longer than that for the offset
        producerConfig.put(ProducerConfig.TRANSACTION_TIMEOUT_CONFIG,
                (int) (3 * EarlyOffsets.HOLD.toMillis()));
        this.producer = new KafkaProducer<>(producerConfig);
        this.early = new EarlyOffsets(producer, name);
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
            consumer.subscribe(List.of(Topics.steps(technique.id())), firstDeliveries);
            subscribed.countDown();
            while (running) {
                for (ConsumerRecord<String, byte[]> record : consumer.poll(Duration.ofMillis(500))) {
                    if (!running) {
                        break;
                    }
                    busy.incrementAndGet();
                    try {
                        handleSafely(record);
                    } finally {
                        busy.decrementAndGet();
                    }
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
        early.close();
        try {
            KafkaSettings.closeLeavingGroup(consumer, Duration.ofSeconds(5));
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
                commit(record, List.of(), List.of(new ProducerRecord<>(Topics.DEAD_LETTERS, record.key(), record.value())), null);
                return;
            }
            CondenseException error = Failures.classify(e, "step " + (request.getStepIndex() + 1) + " (" + technique.id() + ")");
            StepOutcome failure = StepOutcome.of(request, technique, new StepExecution.Failed(Events.error(request.getStepIndex() + 1,
                    technique.id(), error)), cancellations, finisher);
            commit(record, List.of(request), records(record, request, technique, failure), failure);
        }
    }

    private void handle(ConsumerRecord<String, byte[]> record) {
        TopicPartition partition = new TopicPartition(record.topic(), record.partition());
        StepRequested request;
        try {
            request = StepRequested.parseFrom(record.value());
        } catch (InvalidProtocolBufferException e) {
            log.error("Sending an unreadable step message at {} offset {} to {}", partition, record.offset(), Topics.DEAD_LETTERS);
            commit(record, List.of(), List.of(new ProducerRecord<>(Topics.DEAD_LETTERS, record.key(), record.value())), null);
            return;
        }
        switch (intake.admit(request)) {
            case WAIT -> {
                consumer.seek(partition, record.offset());
                return;
            }
            case SKIP -> {
                commit(record, List.of(), List.of(), null);
                return;
            }
            case RUN -> {
                // below
            }
        }
        String jobId = request.getJobId();
        int stepIndex = request.getStepIndex();
        StepAttempts.History history = attempts.history(jobId, stepIndex);
        if (history.cutOff() >= StepAttempts.CRASH_LIMIT) {
            CondenseException crashed = new CondenseException(ErrorCode.INTERNAL_ERROR, "step " + (stepIndex + 1) + " (" + technique.id()
                    + ") stopped its worker " + history.cutOff() + " times before it could finish (workers " + history.workers()
                    + "): the process died (killed, out of memory or a crash in native code); it is not run again, and its step "
                    + "message is in " + Topics.DEAD_LETTERS);
            log.error("Job {}: {}", jobId, crashed.getMessage());
            StepOutcome decided = StepOutcome.of(request, technique, new StepExecution.Failed(Events.error(stepIndex + 1, technique.id(),
                    crashed)), cancellations, finisher);
            commit(record, List.of(request), records(record, request, technique, decided), decided);
            return;
        }
        // a step record that may have been delivered before (a worker may have died running it) runs on its own
        boolean firstDelivery = firstDeliveries.take(record);
        opened = early.open(partition, record.offset() + 1, consumer.groupMetadata());
        StepChain.Ran ran = chain.run(request, technique, () -> firstDelivery && running && busy.get() <= CHAIN_BESIDE + 1 && noneWaiting());
        commit(record, ran.requests(), records(record, ran.last(), ran.lastTechnique(), ran.outcome()), ran.outcome());
    }

    /**
     * Whether no other step waits on this consumer's partitions (as of its last fetch). A job's next step runs here at once
     * only then, and only while at most {@link #CHAIN_BESIDE} other step consumers of this process are running a step
     * ({@code busy} counts this one): with more jobs under way, the next step goes through its topic, so another
     * technique's consumers run it while this one takes the next job (the steps of concurrent jobs run side by side, as
     * without chaining).
     */
    private boolean noneWaiting() {
        for (TopicPartition partition : consumer.assignment()) {
            // unknown for a partition the broker's incremental fetch responses left out: nothing new arrived there. A lag of
            // 1 is the commit marker that follows the step record just polled (every step record is written in a
            // transaction): a step waiting behind it makes at least 2 more
            java.util.OptionalLong lag = consumer.currentLag(partition);
            if (lag.isPresent() && lag.getAsLong() > 1) {
                return false;
            }
        }
        return true;
    }

    /**
     * The records of an outcome, in the order the transaction writes them: events, the next step, the dead letter ({@code
     * request}, the step that failed, run by {@code ran}).
     */
    private List<ProducerRecord<String, byte[]>> records(ConsumerRecord<String, byte[]> record, StepRequested request, LoadedTechnique ran,
            StepOutcome decided) {
        List<ProducerRecord<String, byte[]>> out = new ArrayList<>();
        for (BusEvent event : decided.events()) {
            out.add(Events.record(event));
        }
        if (decided.next() != null) {
            out.add(Events.stepRecord(decided.next()));
        }
        if (decided.failure() != null) {
            out.add(deadLetter(record, request, ran, decided.failure()));
        }
        return out;
    }

    private ProducerRecord<String, byte[]> deadLetter(ConsumerRecord<String, byte[]> record, StepRequested request, LoadedTechnique ran,
            JobError error) {
        // a step chained after the consumed one goes to the dead letters as its own step message
        byte[] message = ran == technique ? record.value() : request.toByteArray();
        ProducerRecord<String, byte[]> deadLetter = new ProducerRecord<>(Topics.DEAD_LETTERS, request.getJobId(), message);
        deadLetter.headers()
                .add("condense.technique", ran.id().getBytes(StandardCharsets.UTF_8))
                .add("condense.step", Integer.toString(request.getStepIndex() + 1).getBytes(StandardCharsets.UTF_8))
                .add("condense.error.code", error.getCode().getBytes(StandardCharsets.UTF_8))
                .add("condense.error.message", error.getMessage().getBytes(StandardCharsets.UTF_8));
        return deadLetter;
    }

    /**
     * Writes the outcome of the steps run for {@code record} ({@code ran}; {@code decided}, as {@code out}, or null for an
     * unreadable record) and the consumer offset in one transaction, then hands its events to this process's views; on a
     * broker error the record is read again.
     */
    private void commit(ConsumerRecord<String, byte[]> record, List<StepRequested> ran, List<ProducerRecord<String, byte[]>> out,
            StepOutcome decided) {
        JobOutcome outcome = decided == null ? null : decided.outcome();
        TopicPartition partition = new TopicPartition(record.topic(), record.partition());
        // the step's started and progress events go first, so watchers see them before its outcome
        sender.flush();
        EarlyOffsets.Open open = opened;
        opened = null;
        try {
            boolean offsetSent = false;
            if (open != null && open.holds(partition, record.offset() + 1)) {
                offsetSent = open.claim();
            } else if (open != null) {
                open.abandon();
            }
            if (!offsetSent) {
                producer.beginTransaction();
            }
            for (ProducerRecord<String, byte[]> item : out) {
                producer.send(item);
            }
            if (!offsetSent) {
                producer.sendOffsetsToTransaction(Map.of(partition, new OffsetAndMetadata(record.offset() + 1)), consumer.groupMetadata());
            }
            producer.commitTransaction();
            if (decided != null) {
                committed.committed(decided.events());
            }
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
            ran.forEach(request -> announceRetry(request, e));
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
    private void announceRetry(StepRequested request, KafkaException cause) {
        String stepTechnique = request.getSpec().getSteps(request.getStepIndex()).getTechnique();
        CondenseException error = new CondenseException(ErrorCode.UNAVAILABLE, "the outcome could not be written to Kafka ("
                + cause.getMessage() + "); the step runs again");
        sender.send(Events.event(request.getJobId()).setStepFailed(StepFailed.newBuilder().setStepIndex(request.getStepIndex())
                .setTechnique(stepTechnique).setError(Events.error(request.getStepIndex() + 1, stepTechnique, error))
                .setWillRetry(true)).build());
    }

    void stop() {
        running = false;
        consumer.wakeup();
    }
}
