package io.condense.server.bus;

import static java.util.Objects.requireNonNull;

import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import org.apache.kafka.clients.consumer.CloseOptions;
import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * Client settings for one Kafka cluster: keys are job ids (text), values protobuf bytes. Every client starts from the
 * operator's client properties ({@link KafkaOptions}: the cluster's security settings), then Condense's own.
 */
public record KafkaSettings(String bootstrapServers, int stepPartitions, KafkaOptions options) {

    public KafkaSettings {
        requireNonNull(bootstrapServers, "bootstrapServers is null");
        if (stepPartitions <= 0) {
            throw new IllegalArgumentException("stepPartitions must be positive: " + stepPartitions);
        }
        requireNonNull(options, "options is null");
    }

    /** A cluster reached without client properties, topics replicated automatically. */
    public KafkaSettings(String bootstrapServers, int stepPartitions) {
        this(bootstrapServers, stepPartitions, KafkaOptions.DEFAULTS);
    }

    private Map<String, Object> base() {
        Map<String, Object> config = new HashMap<>(options.clientProperties());
        config.put("bootstrap.servers", bootstrapServers);
        return config;
    }

    public Map<String, Object> admin() {
        return base();
    }

    /** A transactional producer: every write of a step's outcome is one transaction. */
    public Map<String, Object> transactionalProducer(String transactionalId) {
        Map<String, Object> config = plainProducer(transactionalId + "-producer");
        config.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, transactionalId);
        return config;
    }

    /** An idempotent producer for informational events (step started, progress). */
    public Map<String, Object> plainProducer(String clientId) {
        Map<String, Object> config = base();
        config.put(ProducerConfig.CLIENT_ID_CONFIG, clientId);
        config.put(ProducerConfig.ACKS_CONFIG, "all");
        config.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        config.put(ProducerConfig.LINGER_MS_CONFIG, 0);
        // a transaction begun right after a commit is answered CONCURRENT_TRANSACTIONS until the markers are
        // written; retry soon instead of after the default 100 ms
        config.put(ProducerConfig.RETRY_BACKOFF_MS_CONFIG, 5);
        config.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        config.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        return config;
    }

    /** A consumer that reads only committed records and commits offsets through producer transactions. */
    public Map<String, Object> consumer(String groupId, String clientId) {
        Map<String, Object> config = base();
        if (groupId != null) {
            config.put(ConsumerConfig.GROUP_ID_CONFIG, groupId);
        }
        config.put(ConsumerConfig.CLIENT_ID_CONFIG, clientId);
        config.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        config.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        config.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        // fetch.max.wait.ms stays Kafka's 500 ms: a fetch the broker holds open is answered as soon as a record (or a
        // transaction's commit marker) arrives, so the wait costs no latency, only how often an idle consumer asks again.
        // At 50 ms the 16 step consumers and the readers asked hundreds of times a second and an idle server took a
        // quarter of a core (server/service/README.md, "Idle CPU"); a request of another kind on the same connection
        // waits behind a held fetch, which is why EventsReader asks for end offsets on a consumer of their own.
        config.put(ConsumerConfig.FETCH_MAX_WAIT_MS_CONFIG, 500);
        config.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        config.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        return config;
    }

    /**
     * Closes a consumer made by {@link #stepConsumer}, leaving its group. A static member stays in its group when it closes
     * (Kafka's default), so that the same {@code group.instance.id} coming back takes its partitions back at once; but a
     * process's ids are new for every start unless {@code --instance-id} is given, so the members of a process that stopped
     * cleanly held their partitions until their 15 s session expired, and the first job after a restart of {@code serve}
     * waited 10 to 15 s for its step to start. A member that leaves hands its partitions to the others (or the next
     * process) at once; one whose process was killed still holds them until its session expires.
     */
    public static void closeLeavingGroup(Consumer<?, ?> consumer, Duration timeout) {
        consumer.close(CloseOptions.groupMembershipOperation(CloseOptions.GroupMembershipOperation.LEAVE_GROUP).withTimeout(timeout));
    }

    /**
     * A step consumer: one record at a time, and room for long steps between polls. A static group member
     * (the same {@code groupInstanceId} after a restart) takes its partitions back at once instead of
     * waiting for the killed process's session to expire.
     */
    public Map<String, Object> stepConsumer(String groupId, String clientId, String groupInstanceId) {
        Map<String, Object> config = consumer(groupId, clientId);
        config.put(ConsumerConfig.GROUP_INSTANCE_ID_CONFIG, groupInstanceId);
        config.put(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, 15_000);
        config.put(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG, 3_000);
        config.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, 1);
        config.put(ConsumerConfig.MAX_POLL_INTERVAL_MS_CONFIG, 6 * 60 * 60 * 1000);
        // kept above max.poll.interval.ms, as Kafka advises, so a long step does not drop the coordinator connection
        config.put(ConsumerConfig.CONNECTIONS_MAX_IDLE_MS_CONFIG, 6 * 60 * 60 * 1000 + 60_000);
        return config;
    }
}
