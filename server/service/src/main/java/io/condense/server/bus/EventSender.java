package io.condense.server.bus;

import static java.util.Objects.requireNonNull;

import io.condense.proto.v1.events.BusEvent;
import java.time.Duration;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Sends informational events (step started, progress, a retry) outside transactions: they are shown to
 * people while a step runs and losing one changes no job's outcome.
 */
public final class EventSender implements EventSink, AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(EventSender.class);

    private final KafkaProducer<String, byte[]> producer;

    public EventSender(KafkaSettings settings, String clientId, io.condense.server.metrics.KafkaClientBinder binder) {
        requireNonNull(settings, "settings is null");
        this.producer = new KafkaProducer<>(settings.plainProducer(clientId));
        binder.bind(producer);
    }

    @Override
    public void send(BusEvent event) {
        producer.send(Events.record(event), (metadata, exception) -> {
            if (exception != null) {
                log.warn("Could not publish a {} event of job {}: {}", event.getPayloadCase(), event.getJobId(), exception.toString());
            }
        });
    }

    /** Waits until every event sent so far is written, so events that follow in a transaction come after them. */
    @Override
    public void flush() {
        producer.flush();
    }

    @Override
    public void close() {
        producer.close(Duration.ofSeconds(5));
    }
}
