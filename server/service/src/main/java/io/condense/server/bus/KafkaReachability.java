package io.condense.server.bus;

import static java.util.Objects.requireNonNull;

import java.util.Collection;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.common.Node;

/** Whether the Kafka cluster answers now: a metadata request with a short timeout. */
public final class KafkaReachability implements AutoCloseable {
    private static final int TIMEOUT_MS = 5_000;

    private final Admin admin;
    private final String bootstrapServers;

    public KafkaReachability(KafkaSettings settings) {
        requireNonNull(settings, "settings is null");
        Map<String, Object> config = settings.admin();
        config.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, TIMEOUT_MS);
        config.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, TIMEOUT_MS);
        config.put(AdminClientConfig.CLIENT_ID_CONFIG, "condense-health");
        this.admin = Admin.create(config);
        this.bootstrapServers = settings.bootstrapServers();
    }

    /** Empty when a broker answered, else why not. */
    public Optional<String> problem() {
        try {
            Collection<Node> nodes = admin.describeCluster().nodes().get(TIMEOUT_MS + 1_000L, TimeUnit.MILLISECONDS);
            return nodes.isEmpty() ? Optional.of("the Kafka cluster at " + bootstrapServers + " has no broker") : Optional.empty();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Optional.of("interrupted while reaching Kafka");
        } catch (ExecutionException | TimeoutException e) {
            Throwable cause = e.getCause() == null ? e : e.getCause();
            return Optional.of("the Kafka cluster at " + bootstrapServers + " cannot be reached: " + cause.getClass().getSimpleName()
                    + (cause.getMessage() == null ? "" : " " + cause.getMessage()));
        }
    }

    @Override
    public void close() {
        admin.close(java.time.Duration.ofSeconds(2));
    }
}
