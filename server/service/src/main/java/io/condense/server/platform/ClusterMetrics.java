package io.condense.server.platform;

import static java.util.Objects.requireNonNull;

import io.condense.server.bus.KafkaSettings;
import io.condense.server.bus.Topics;
import io.condense.server.job.JobView;
import io.condense.server.metrics.StepMetrics;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Gauges of the whole cluster's jobs (jobs in flight, jobs queued per technique), which every API instance could
 * compute from its job view: only one instance at a time reports them, so a sum over instances counts each job once.
 * That instance is the one the Kafka consumer group {@value #GROUP} assigns the single partition of
 * {@link Topics#INSTANCES}; when it stops, another takes over.
 */
final class ClusterMetrics implements AutoCloseable {
    static final String GROUP = "condense-cluster-metrics";
    private static final Logger log = LoggerFactory.getLogger(ClusterMetrics.class);

    private final MeterRegistry registry;
    private final JobView jobs;
    private final Collection<String> techniques;
    private final KafkaConsumer<String, byte[]> consumer;
    private final Thread thread;
    private final List<Meter> meters = new ArrayList<>();
    private volatile boolean running = true;

    ClusterMetrics(KafkaSettings settings, String instanceId, MeterRegistry registry, JobView jobs, Collection<String> techniques) {
        this.registry = requireNonNull(registry, "registry is null");
        this.jobs = requireNonNull(jobs, "jobs is null");
        this.techniques = List.copyOf(techniques);
        Map<String, Object> config = settings.consumer(GROUP, GROUP + "-" + instanceId);
        config.put(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, 10_000);
        config.put(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG, 2_000);
        this.consumer = new KafkaConsumer<>(config);
        this.thread = new Thread(this::run, "condense-cluster-metrics");
        this.thread.setDaemon(true);
    }

    void start() {
        thread.start();
    }

    /** True while this instance reports the cluster's gauges. */
    synchronized boolean reporting() {
        return !meters.isEmpty();
    }

    private void run() {
        try {
            consumer.subscribe(List.of(Topics.INSTANCES), new ConsumerRebalanceListener() {
                @Override
                public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
                    if (!partitions.isEmpty()) {
                        unregister();
                    }
                }

                @Override
                public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
                    if (!partitions.isEmpty()) {
                        register();
                    }
                }

                @Override
                public void onPartitionsLost(Collection<TopicPartition> partitions) {
                    unregister();
                }
            });
            while (running) {
                consumer.poll(Duration.ofSeconds(1));
            }
        } catch (WakeupException e) {
            // closing
        } catch (RuntimeException e) {
            log.error("Cluster gauges stopped: {}", e.toString());
        } finally {
            unregister();
            consumer.close(Duration.ofSeconds(5));
        }
    }

    private synchronized void register() {
        if (!meters.isEmpty()) {
            return;
        }
        meters.add(Gauge.builder(StepMetrics.JOBS_IN_FLIGHT, jobs, JobView::inFlight)
                .description("Jobs accepted and not yet ended, in the whole cluster (reported by one API instance)").register(registry));
        for (String technique : techniques) {
            meters.add(Gauge.builder(StepMetrics.JOBS_QUEUED, jobs, view -> view.queued(technique)).tag("technique", technique)
                    .description("Jobs waiting for a step of this technique, in the whole cluster (reported by one API instance)")
                    .register(registry));
        }
        log.info("This instance reports the cluster's job gauges");
    }

    private synchronized void unregister() {
        for (Meter meter : meters) {
            registry.remove(meter);
        }
        meters.clear();
    }

    @Override
    public void close() throws InterruptedException {
        running = false;
        consumer.wakeup();
        thread.join(10_000);
    }
}
