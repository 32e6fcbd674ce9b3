package io.condense.server.api;

import static java.util.Objects.requireNonNull;

import io.condense.proto.v1.events.BusEvent;
import io.condense.proto.v1.events.StepRequested;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.server.bus.Events;
import io.condense.server.bus.KafkaSettings;
import io.condense.server.metrics.KafkaClientBinder;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import org.apache.kafka.common.errors.AuthorizationException;
import org.apache.kafka.common.errors.InvalidProducerEpochException;
import org.apache.kafka.common.errors.OutOfOrderSequenceException;
import org.apache.kafka.common.errors.ProducerFencedException;
import org.apache.kafka.common.errors.TimeoutException;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.KafkaException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes what the API decides (a job and its first step, a cancellation) to Kafka in a transaction and
 * returns only once the broker has committed it.
 */
public final class SubmitPublisher implements JobPublisher, AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(SubmitPublisher.class);

    private final KafkaProducer<String, byte[]> producer;
    /** The transaction call that timed out and must be made again (Kafka refuses any other until it is). */
    private enum Ending { NONE, COMMIT, ABORT }

    private Ending timedOut = Ending.NONE;
    /** Why this publisher can never write again (fenced by another process with the same transactional id). */
    private volatile String broken;

    public SubmitPublisher(KafkaSettings settings, String instanceId, KafkaClientBinder binder) {
        requireNonNull(settings, "settings is null");
        this.producer = new KafkaProducer<>(settings.transactionalProducer("condense-api-" + instanceId));
        binder.bind(producer);
        producer.initTransactions();
    }

    @Override
    public void submit(BusEvent submitted, StepRequested firstStep) {
        publishAll(List.of(Events.record(submitted), Events.stepRecord(firstStep)));
    }

    @Override
    public void publish(BusEvent event) {
        publishAll(List.of(Events.record(event)));
    }

    /** Writes the records in one transaction (a channel's state with a version's job and the cancellations it decides). */
    public synchronized void publishAll(List<ProducerRecord<String, byte[]>> records) {
        try {
            finishTimedOutCall();
            producer.beginTransaction();
            for (ProducerRecord<String, byte[]> record : records) {
                producer.send(record);
            }
            timedOut = Ending.COMMIT;
            producer.commitTransaction();
            timedOut = Ending.NONE;
        } catch (ProducerFencedException | OutOfOrderSequenceException | AuthorizationException | InvalidProducerEpochException e) {
            broken = "the API's Kafka producer was fenced: another process uses its transactional id (" + e.getMessage() + ")";
            log.error("Cannot write to Kafka any more: {}", broken);
            throw new CondenseException(ErrorCode.UNAVAILABLE, "this API instance cannot write jobs any more; try another", e);
        } catch (TimeoutException e) {
            // the commit (or an abort) timed out with the broker away: Kafka allows only the same call again, which the next
            // publish makes. The transaction may still commit, so a client retries with its client_request_id.
            log.warn("Kafka did not answer in time: {}", e.toString());
            throw new CondenseException(ErrorCode.UNAVAILABLE, "Kafka did not confirm the write in time (" + e.getMessage()
                    + "); it may still be written: try again with the same client_request_id", e);
        } catch (KafkaException | IllegalStateException e) {
            // IllegalStateException: the producer is closing with the process
            log.warn("Could not write to Kafka: {}", e.toString());
            abort();
            throw new CondenseException(ErrorCode.UNAVAILABLE, "the job could not be written to Kafka (" + e.getMessage() + "); try again", e);
        }
    }

    /** A commit or abort that timed out must be called again before the next transaction. */
    private void finishTimedOutCall() {
        switch (timedOut) {
            case COMMIT -> producer.commitTransaction();
            case ABORT -> producer.abortTransaction();
            case NONE -> {
                return;
            }
        }
        timedOut = Ending.NONE;
    }

    private void abort() {
        try {
            timedOut = Ending.ABORT;
            producer.abortTransaction();
            timedOut = Ending.NONE;
        } catch (TimeoutException abortTimedOut) {
            log.warn("Could not abort the transaction in time: {}", abortTimedOut.toString());
        } catch (KafkaException | IllegalStateException abortFailure) {
            timedOut = Ending.NONE;
            log.warn("Could not abort the transaction: {}", abortFailure.toString());
        }
    }

    /** Why this publisher cannot write any more; empty while it can. */
    public Optional<String> problem() {
        return Optional.ofNullable(broken);
    }

    @Override
    public void close() {
        producer.close(Duration.ofSeconds(5));
    }
}
