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
            producer.beginTransaction();
            for (ProducerRecord<String, byte[]> record : records) {
                producer.send(record);
            }
            producer.commitTransaction();
        } catch (ProducerFencedException | OutOfOrderSequenceException | AuthorizationException | InvalidProducerEpochException e) {
            broken = "the API's Kafka producer was fenced: another process uses its transactional id (" + e.getMessage() + ")";
            log.error("Cannot write to Kafka any more: {}", broken);
            throw new CondenseException(ErrorCode.UNAVAILABLE, "this API instance cannot write jobs any more; try another", e);
        } catch (KafkaException e) {
            log.warn("Could not write to Kafka: {}", e.toString());
            try {
                producer.abortTransaction();
            } catch (KafkaException abortFailure) {
                log.warn("Could not abort the transaction: {}", abortFailure.toString());
            }
            throw new CondenseException(ErrorCode.UNAVAILABLE, "the job could not be written to Kafka (" + e.getMessage() + "); try again", e);
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
