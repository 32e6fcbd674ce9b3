package io.condense.server.metrics;

import static java.util.Objects.requireNonNull;

import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.kafka.KafkaClientMetrics;
import java.util.ArrayList;
import java.util.List;
import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.clients.producer.Producer;

/** Binds Micrometer's Kafka client metrics to every producer and consumer the server creates. */
public final class KafkaClientBinder implements AutoCloseable {
    private final MeterRegistry registry;
    private final List<KafkaClientMetrics> bound = new ArrayList<>();

    public KafkaClientBinder(MeterRegistry registry) {
        this.registry = requireNonNull(registry, "registry is null");
    }

    public synchronized void bind(Object client) {
        KafkaClientMetrics metrics;
        if (client instanceof Producer<?, ?> producer) {
            metrics = new KafkaClientMetrics(producer);
        } else if (client instanceof Consumer<?, ?> consumer) {
            metrics = new KafkaClientMetrics(consumer);
        } else {
            throw new IllegalArgumentException("not a Kafka producer or consumer: " + client.getClass().getName());
        }
        metrics.bindTo(registry);
        bound.add(metrics);
    }

    @Override
    public synchronized void close() {
        for (KafkaClientMetrics metrics : bound) {
            metrics.close();
        }
        bound.clear();
    }
}
