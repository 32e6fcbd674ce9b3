package io.condense.server.bus;

import static java.util.Objects.requireNonNull;

import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import java.io.IOException;
import java.io.PrintStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Properties;
import kafka.server.KafkaConfig;
import kafka.server.KafkaRaftServer;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.utils.Time;
import org.apache.kafka.metadata.storage.Formatter;
import org.apache.kafka.server.common.Feature;
import org.apache.kafka.server.common.MetadataVersion;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A single-node Kafka (KRaft, broker and controller in one) on loopback ports, storing its log under a
 * folder of the data folder, so a restart on the same folder keeps every accepted job.
 */
public final class EmbeddedKafka implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(EmbeddedKafka.class);

    private final KafkaRaftServer server;
    private final String bootstrapServers;

    private EmbeddedKafka(KafkaRaftServer server, String bootstrapServers) {
        this.server = server;
        this.bootstrapServers = bootstrapServers;
    }

    /** Formats the log folder on first use, then starts the broker on free loopback ports. */
    public static EmbeddedKafka start(Path logDirectory) {
        return start(logDirectory, 0);
    }

    /** The same, with the broker (not the controller) on {@code port} of 127.0.0.1 unless it is 0 (a free one). */
    public static EmbeddedKafka start(Path logDirectory, int port) {
        requireNonNull(logDirectory, "logDirectory is null");
        long started = System.nanoTime();
        int[] ports = freePorts(2);
        int brokerPort = port > 0 ? port : ports[0];
        int controllerPort = ports[1] == brokerPort ? ports[0] : ports[1];
        Properties properties = new Properties();
        properties.put("process.roles", "broker,controller");
        properties.put("node.id", "1");
        properties.put("controller.quorum.voters", "1@127.0.0.1:" + controllerPort);
        properties.put("listeners", "PLAINTEXT://127.0.0.1:" + brokerPort + ",CONTROLLER://127.0.0.1:" + controllerPort);
        properties.put("advertised.listeners", "PLAINTEXT://127.0.0.1:" + brokerPort);
        properties.put("controller.listener.names", "CONTROLLER");
        properties.put("inter.broker.listener.name", "PLAINTEXT");
        properties.put("listener.security.protocol.map", "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT");
        properties.put("log.dirs", logDirectory.toAbsolutePath().toString());
        properties.put("num.partitions", "1");
        properties.put("default.replication.factor", "1");
        properties.put("min.insync.replicas", "1");
        properties.put("offsets.topic.replication.factor", "1");
        properties.put("offsets.topic.num.partitions", "1");
        properties.put("transaction.state.log.replication.factor", "1");
        properties.put("transaction.state.log.min.isr", "1");
        properties.put("transaction.state.log.num.partitions", "1");
        properties.put("share.coordinator.state.topic.replication.factor", "1");
        properties.put("share.coordinator.state.topic.min.isr", "1");
        properties.put("group.initial.rebalance.delay.ms", "0");
        properties.put("log.cleaner.dedupe.buffer.size", "4194304");
        properties.put("auto.create.topics.enable", "false");
        // one voter: no need to wait long for an election
        properties.put("controller.quorum.election.timeout.ms", "200");
        properties.put("controller.quorum.fetch.timeout.ms", "400");
        properties.put("controller.quorum.election.backoff.max.ms", "200");
        try {
            Files.createDirectories(logDirectory);
            if (!Files.exists(logDirectory.resolve("meta.properties"))) {
                new Formatter()
                        .setPrintStream(new PrintStream(OutputStream.nullOutputStream()))
                        .setSupportedFeatures(Feature.PRODUCTION_FEATURES)
                        .setNodeId(1)
                        .setClusterId(Uuid.randomUuid().toString())
                        .setDirectories(List.of(logDirectory.toAbsolutePath().toString()))
                        .setMetadataLogDirectory(logDirectory.toAbsolutePath().toString())
                        .setControllerListenerName("CONTROLLER")
                        .setReleaseVersion(MetadataVersion.LATEST_PRODUCTION)
                        .run();
            }
            KafkaRaftServer server = new KafkaRaftServer(new KafkaConfig(properties, false), Time.SYSTEM);
            server.startup();
            String bootstrap = "127.0.0.1:" + brokerPort;
            log.info("Embedded Kafka broker listening on {} (log in {}), started in {} ms", bootstrap, logDirectory,
                    (System.nanoTime() - started) / 1_000_000);
            return new EmbeddedKafka(server, bootstrap);
        } catch (Exception e) {
            throw new CondenseException(ErrorCode.UNAVAILABLE, "cannot start the embedded Kafka broker in " + logDirectory + ": " + e.getMessage(), e);
        }
    }

    public String bootstrapServers() {
        return bootstrapServers;
    }

    @Override
    public void close() {
        server.shutdown();
        server.awaitShutdown();
    }

    /** Distinct free loopback ports: all sockets are held open together so no port is handed out twice. */
    private static int[] freePorts(int count) {
        ServerSocket[] sockets = new ServerSocket[count];
        try {
            int[] ports = new int[count];
            for (int i = 0; i < count; i++) {
                sockets[i] = new ServerSocket();
                sockets[i].setReuseAddress(true);
                sockets[i].bind(new InetSocketAddress("127.0.0.1", 0));
                ports[i] = sockets[i].getLocalPort();
            }
            return ports;
        } catch (IOException e) {
            throw new CondenseException(ErrorCode.UNAVAILABLE, "no free loopback port for the embedded Kafka broker: " + e.getMessage(), e);
        } finally {
            for (ServerSocket socket : sockets) {
                if (socket != null) {
                    try {
                        socket.close();
                    } catch (IOException ignored) {
                        // the port is free again either way
                    }
                }
            }
        }
    }
}
