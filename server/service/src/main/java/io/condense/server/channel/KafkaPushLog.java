package io.condense.server.channel;

import static java.util.Objects.requireNonNull;

import io.condense.proto.v1.events.ChannelPush;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.server.bus.Events;
import io.condense.server.bus.KafkaSettings;
import io.condense.server.metrics.KafkaClientBinder;
import java.time.Duration;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.producer.KafkaProducer;

/**
 * The pushes topic as the API writes it: one record per acknowledged push, written by an idempotent producer with
 * acks=all and no transaction, so a push waits for one write to the broker (all in-sync replicas), not for a transaction's
 * markers, and its records stay in the order they were sent.
 */
public final class KafkaPushLog implements ChannelWriter.PushLog, AutoCloseable {
    private static final Duration WRITE_TIMEOUT = Duration.ofSeconds(30);

    private final KafkaProducer<String, byte[]> producer;

    public KafkaPushLog(KafkaSettings settings, String instanceId, KafkaClientBinder binder) {
        requireNonNull(settings, "settings is null");
        this.producer = new KafkaProducer<>(settings.plainProducer("condense-pushes-" + instanceId));
        binder.bind(producer);
    }

    @Override
    public void append(ChannelPush push) {
        try {
            producer.send(Events.pushRecord(push)).get(WRITE_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CondenseException(ErrorCode.UNAVAILABLE, "interrupted while writing the push to Kafka; push again", e);
        } catch (ExecutionException | TimeoutException e) {
            Throwable cause = e.getCause() == null ? e : e.getCause();
            throw new CondenseException(ErrorCode.UNAVAILABLE, "Kafka did not confirm the push of version " + push.getVersion() + " of channel '"
                    + push.getChannel() + "' (" + cause.getMessage() + "); push again (it may be queued twice)", e);
        }
    }

    @Override
    public void close() {
        producer.close(Duration.ofSeconds(5));
    }
}
