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

    /** The events topic, the compacted channels topic, the dead-letter topic and one step topic per technique. */
    public void ensureTopics(Collection<String> techniqueIds) {
        try (Admin admin = Admin.create(settings.admin())) {
            Set<String> existing = admin.listTopics().names().get(60, TimeUnit.SECONDS);
            List<NewTopic> missing = new ArrayList<>();
            if (!existing.contains(Topics.EVENTS)) {
                missing.add(new NewTopic(Topics.EVENTS, 1, (short) 1));
            }
            if (!existing.contains(Topics.INSTANCES)) {
                missing.add(new NewTopic(Topics.INSTANCES, 1, (short) 1));
            }
            if (!existing.contains(Topics.CHANNELS)) {
                missing.add(new NewTopic(Topics.CHANNELS, 1, (short) 1).configs(java.util.Map.of("cleanup.policy", "compact")));
            }
            if (!existing.contains(Topics.DEAD_LETTERS)) {
                missing.add(new NewTopic(Topics.DEAD_LETTERS, 1, (short) 1));
            }
            for (String technique : techniqueIds) {
                String topic = Topics.steps(technique);
                if (!existing.contains(topic)) {
                    missing.add(new NewTopic(topic, settings.stepPartitions(), (short) 1));
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
                log.info("Created topics {}", missing.stream().map(NewTopic::name).toList());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CondenseException(ErrorCode.UNAVAILABLE, "interrupted while creating Kafka topics", e);
        } catch (ExecutionException | TimeoutException e) {
            throw new CondenseException(ErrorCode.UNAVAILABLE, "cannot create the Kafka topics at " + settings.bootstrapServers()
                    + ": " + (e.getCause() == null ? e : e.getCause()).getMessage(), e);
        }
    }
}
