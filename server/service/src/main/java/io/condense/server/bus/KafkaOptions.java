package io.condense.server.bus;

import static java.util.Objects.requireNonNull;

import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;

/**
 * How Condense talks to a real Kafka cluster beyond its address: client properties every producer, consumer and admin
 * client gets (the cluster's security: {@code security.protocol}, {@code sasl.*}, {@code ssl.*}), the replication
 * factor of the topics Condense creates (0: as many replicas as the cluster has brokers, at most 3), and the port of the
 * embedded broker (0: a free one), so that other processes can join a demo broker.
 */
public record KafkaOptions(Map<String, String> clientProperties, int replicationFactor, int embeddedBrokerPort) {
    public static final KafkaOptions DEFAULTS = new KafkaOptions(Map.of(), 0, 0);

    /** Properties Condense sets itself on every client (its isolation, transactions, serializers): a file may not change them. */
    private static final Set<String> OWN = Set.of("bootstrap.servers", "transactional.id", "isolation.level", "enable.auto.commit",
            "enable.idempotence", "group.id", "group.instance.id", "client.id", "key.serializer", "value.serializer", "key.deserializer",
            "value.deserializer", "acks", "max.poll.records", "auto.offset.reset");

    public KafkaOptions {
        clientProperties = Map.copyOf(requireNonNull(clientProperties, "clientProperties is null"));
        for (String key : clientProperties.keySet()) {
            if (OWN.contains(key)) {
                throw new CondenseException(ErrorCode.INVALID_PARAMETER, "the Kafka client property '" + key + "' is set by Condense "
                        + "itself and cannot be given in --kafka-config; give the cluster's address with --kafka-bootstrap, and only "
                        + "connection and security settings (security.protocol, sasl.*, ssl.*) in the file");
            }
        }
        if (replicationFactor < 0 || replicationFactor > Short.MAX_VALUE) {
            throw new CondenseException(ErrorCode.INVALID_PARAMETER, "--replication-factor must be 0 (automatic) or a number of "
                    + "brokers, not " + replicationFactor);
        }
        if (embeddedBrokerPort < 0 || embeddedBrokerPort > 65535) {
            throw new CondenseException(ErrorCode.INVALID_PARAMETER, "--kafka-port must be a port (1 to 65535) or 0 for a free one, not "
                    + embeddedBrokerPort);
        }
    }

    /** Reads a Java properties file of Kafka client settings. */
    public static Map<String, String> readProperties(Path file) {
        Properties properties = new Properties();
        try (Reader in = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            properties.load(in);
        } catch (IOException e) {
            throw new CondenseException(ErrorCode.INVALID_PARAMETER, "cannot read the Kafka client properties " + file + ": " + e.getMessage(), e);
        }
        Map<String, String> map = new TreeMap<>();
        properties.stringPropertyNames().forEach(name -> map.put(name, properties.getProperty(name)));
        return map;
    }

    public KafkaOptions withClientProperties(Map<String, String> properties) {
        return new KafkaOptions(properties, replicationFactor, embeddedBrokerPort);
    }

    public KafkaOptions withReplicationFactor(int factor) {
        return new KafkaOptions(clientProperties, factor, embeddedBrokerPort);
    }

    public KafkaOptions withEmbeddedBrokerPort(int port) {
        return new KafkaOptions(clientProperties, replicationFactor, port);
    }
}
