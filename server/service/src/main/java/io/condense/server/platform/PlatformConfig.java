package io.condense.server.platform;

import static java.util.Objects.requireNonNull;

import io.condense.server.blob.BlobOptions;
import io.condense.server.bus.KafkaOptions;
import io.condense.server.security.ApiSecurity;
import java.nio.file.Path;
import java.util.Optional;

/**
 * How to run the platform.
 *
 * @param host the address every server binds (127.0.0.1 unless widened)
 * @param grpcPort the gRPC port (0 picks a free one)
 * @param metricsPort the /metrics port (0 picks a free one; negative turns the endpoint off)
 * @param kafkaBootstrap an external Kafka cluster; empty starts the embedded broker under the data folder
 * @param dataFolder blobs, the embedded broker's log and scratch space
 * @param pluginsFolder the plugin archives to load
 * @param role what this process runs
 * @param instanceId names this process's Kafka transactional ids; empty reads or makes one in the data folder
 * @param maxBlobBytes the largest upload
 * @param stepPartitions partitions of each step topic created here
 * @param workerThreads step consumers per technique in this process (each runs one step at a time)
 * @param security TLS, mutual TLS and bearer tokens of the gRPC API ({@link ApiSecurity#NONE}: plaintext, open)
 * @param kafka Kafka client properties, replication of the topics created here, the embedded broker's port
 * @param blobs the blob store (the data folder or an S3 bucket) and the retention of unused blobs
 */
public record PlatformConfig(
        String host,
        int grpcPort,
        int metricsPort,
        Optional<String> kafkaBootstrap,
        Path dataFolder,
        Path pluginsFolder,
        Role role,
        Optional<String> instanceId,
        long maxBlobBytes,
        int stepPartitions,
        int workerThreads,
        ApiSecurity security,
        KafkaOptions kafka,
        BlobOptions blobs) {

    public static final long DEFAULT_MAX_BLOB_BYTES = 2L * 1024 * 1024 * 1024;

    public PlatformConfig {
        requireNonNull(host, "host is null");
        requireNonNull(kafkaBootstrap, "kafkaBootstrap is null");
        requireNonNull(dataFolder, "dataFolder is null");
        requireNonNull(pluginsFolder, "pluginsFolder is null");
        requireNonNull(role, "role is null");
        requireNonNull(instanceId, "instanceId is null");
        if (workerThreads < 1) {
            throw new IllegalArgumentException("workerThreads must be at least 1: " + workerThreads);
        }
        requireNonNull(security, "security is null");
        requireNonNull(kafka, "kafka is null");
        requireNonNull(blobs, "blobs is null");
    }

    /** With Kafka's default options (no client properties, automatic replication, a free embedded port). */
    public PlatformConfig(String host, int grpcPort, int metricsPort, Optional<String> kafkaBootstrap, Path dataFolder, Path pluginsFolder,
            Role role, Optional<String> instanceId, long maxBlobBytes, int stepPartitions, int workerThreads, ApiSecurity security) {
        this(host, grpcPort, metricsPort, kafkaBootstrap, dataFolder, pluginsFolder, role, instanceId, maxBlobBytes, stepPartitions,
                workerThreads, security, KafkaOptions.DEFAULTS, BlobOptions.DEFAULTS);
    }

    /** Without TLS or tokens (plaintext, open: for loopback). */
    public PlatformConfig(String host, int grpcPort, int metricsPort, Optional<String> kafkaBootstrap, Path dataFolder, Path pluginsFolder,
            Role role, Optional<String> instanceId, long maxBlobBytes, int stepPartitions, int workerThreads) {
        this(host, grpcPort, metricsPort, kafkaBootstrap, dataFolder, pluginsFolder, role, instanceId, maxBlobBytes, stepPartitions,
                workerThreads, ApiSecurity.NONE);
    }

    /** Everything in one process on free loopback ports, embedded broker. */
    public static PlatformConfig embedded(Path dataFolder, Path pluginsFolder) {
        return new PlatformConfig("127.0.0.1", 0, 0, Optional.empty(), dataFolder, pluginsFolder, Role.ALL, Optional.empty(),
                DEFAULT_MAX_BLOB_BYTES, 4, 2);
    }

    public PlatformConfig withMaxBlobBytes(long bytes) {
        return new PlatformConfig(host, grpcPort, metricsPort, kafkaBootstrap, dataFolder, pluginsFolder, role, instanceId, bytes, stepPartitions,
                workerThreads, security, kafka, blobs);
    }

    public PlatformConfig withSecurity(ApiSecurity apiSecurity) {
        return new PlatformConfig(host, grpcPort, metricsPort, kafkaBootstrap, dataFolder, pluginsFolder, role, instanceId, maxBlobBytes,
                stepPartitions, workerThreads, apiSecurity, kafka, blobs);
    }

    public PlatformConfig withKafka(KafkaOptions options) {
        return new PlatformConfig(host, grpcPort, metricsPort, kafkaBootstrap, dataFolder, pluginsFolder, role, instanceId, maxBlobBytes,
                stepPartitions, workerThreads, security, options, blobs);
    }

    public PlatformConfig withBlobs(BlobOptions options) {
        return new PlatformConfig(host, grpcPort, metricsPort, kafkaBootstrap, dataFolder, pluginsFolder, role, instanceId, maxBlobBytes,
                stepPartitions, workerThreads, security, kafka, options);
    }
}
