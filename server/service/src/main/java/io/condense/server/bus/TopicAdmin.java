package io.condense.server.bus;

import static java.util.Objects.requireNonNull;

import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Creates the topics Condense needs when they are missing. */
public final class TopicAdmin {
    private static final Logger log = LoggerFactory.getLogger(TopicAdmin.class);

    private final KafkaSettings settings;

    public TopicAdmin(KafkaSettings settings) {
        this.settings = requireNonNull(settings, "settings is null");
    }

    /** The events topic, the compacted channels topic, the pushes topic, the dead-letter topic and one step topic per technique. */
    public void ensureTopics(Collection<String> techniqueIds) {
        try (Admin admin = Admin.create(settings.admin())) {
            Set<String> existing = admin.listTopics().names().get(60, TimeUnit.SECONDS);
            short replicas = replicationFactor(admin);
            List<NewTopic> missing = new ArrayList<>();
            if (!existing.contains(Topics.EVENTS)) {
                missing.add(topic(Topics.EVENTS, 1, replicas));
            }
            if (!existing.contains(Topics.INSTANCES)) {
                missing.add(topic(Topics.INSTANCES, 1, replicas));
            }
            if (!existing.contains(Topics.CHANNELS)) {
                NewTopic channels = topic(Topics.CHANNELS, 1, replicas);
                java.util.Map<String, String> configs = new java.util.HashMap<>(channels.configs() == null ? java.util.Map.of() : channels.configs());
                configs.put("cleanup.policy", "compact");
                missing.add(channels.configs(configs));
            }
            if (!existing.contains(Topics.PUSHES)) {
                missing.add(topic(Topics.PUSHES, settings.stepPartitions(), replicas));
            }
            if (!existing.contains(Topics.DEAD_LETTERS)) {
                missing.add(topic(Topics.DEAD_LETTERS, 1, replicas));
            }
            for (String technique : techniqueIds) {
                String topic = Topics.steps(technique);
                if (!existing.contains(topic)) {
                    missing.add(topic(topic, settings.stepPartitions(), replicas));
                }
            }
            if (!missing.isEmpty()) {
                try {
                    admin.createTopics(missing).all().get(60, TimeUnit.SECONDS);
                } catch (ExecutionException e) {
                    if (!(e.getCause() instanceof org.apache.kafka.common.errors.TopicExistsException)) {
                        throw e;
                    }
                }
                log.info("Created topics {} with {} replica(s) each", missing.stream().map(NewTopic::name).toList(), replicas);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CondenseException(ErrorCode.UNAVAILABLE, "interrupted while creating Kafka topics", e);
        } catch (ExecutionException | TimeoutException e) {
            throw new CondenseException(ErrorCode.UNAVAILABLE, "cannot create the Kafka topics at " + settings.bootstrapServers()
                    + ": " + (e.getCause() == null ? e : e.getCause()).getMessage(), e);
        }
    }

    /**
     * The operator's {@code --replication-factor}, else as many replicas as the cluster has brokers, at most 3 (one
     * broker can be lost without losing an accepted job; a single embedded broker gets 1).
     */
    private short replicationFactor(Admin admin) throws InterruptedException, ExecutionException, TimeoutException {
        int given = settings.options().replicationFactor();
        if (given > 0) {
            return (short) given;
        }
        int brokers = admin.describeCluster().nodes().get(60, TimeUnit.SECONDS).size();
        return (short) Math.max(1, Math.min(3, brokers));
    }

    /** With more than one replica, a write is acknowledged once two have it, so one broker may fail without loss. */
    private static NewTopic topic(String name, int partitions, short replicas) {
        NewTopic topic = new NewTopic(name, partitions, replicas);
        return replicas > 1 ? topic.configs(java.util.Map.of("min.insync.replicas", "2")) : topic;
    }
}
