package io.condense.server.metrics;

import static java.util.Objects.requireNonNull;

import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.kafka.KafkaClientMetrics;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.clients.producer.Producer;

/**
 * Binds Micrometer's Kafka client metrics to every producer and consumer the server creates. They share one refresh
 * thread: by default each binding starts its own, and a server with eight techniques had 41 of them (issue 20).
 */
public final class KafkaClientBinder implements AutoCloseable {
    private final MeterRegistry registry;
    private final List<KafkaClientMetrics> bound = new ArrayList<>();
    private final ScheduledExecutorService refresher = Executors.newSingleThreadScheduledExecutor(task -> {
        Thread thread = new Thread(task, "micrometer-kafka-metrics");
        thread.setDaemon(true);
        return thread;
    });

    public KafkaClientBinder(MeterRegistry registry) {
        this.registry = requireNonNull(registry, "registry is null");
    }

    public synchronized void bind(Object client) {
        KafkaClientMetrics metrics;
        if (client instanceof Producer<?, ?> producer) {
            metrics = new KafkaClientMetrics(producer, List.of(), refresher);
        } else if (client instanceof Consumer<?, ?> consumer) {
            metrics = new KafkaClientMetrics(consumer, List.of(), refresher);
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
        refresher.shutdownNow();
    }
}
