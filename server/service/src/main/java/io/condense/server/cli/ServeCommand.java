package io.condense.server.cli;

import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCategory;
import io.condense.server.blob.BlobOptions;
import io.condense.server.blob.S3Location;
import io.condense.server.bus.KafkaOptions;
import io.condense.server.platform.CondensePlatform;
import io.condense.server.platform.PlatformConfig;
import io.condense.server.platform.Role;
import io.condense.server.security.ApiSecurity;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code condense serve}: runs a server until stopped. */
@Command(name = "serve", mixinStandardHelpOptions = true,
        description = "Runs a Condense server: gRPC API, Kafka step workers for every plugin, /metrics. "
                + "Without --kafka-bootstrap it starts an embedded Kafka broker whose data lives in the data folder.")
final class ServeCommand implements Callable<Integer> {
    /** The exit code when a part of the server stopped and cannot come back (EX_SOFTWARE). */
    static final int EXIT_CANNOT_WORK = 70;

    @Option(names = "--host", defaultValue = "127.0.0.1", description = "Address to listen on (default: ${DEFAULT-VALUE}).")
    String host;

    @Option(names = "--grpc-port", defaultValue = "50051", description = "gRPC port (default: ${DEFAULT-VALUE}; 0 picks a free one).")
    int grpcPort;

    @Option(names = "--metrics-port", defaultValue = "9464", description = "Prometheus /metrics port (default: ${DEFAULT-VALUE}; 0 picks a free one).")
    int metricsPort;

    @Option(names = "--kafka-bootstrap", paramLabel = "HOST:PORT", description = "Use this Kafka cluster instead of the embedded broker.")
    String kafkaBootstrap;

    @Option(names = "--kafka-config", paramLabel = "FILE", description = "Kafka client properties (Java properties file) every client of "
            + "this process gets: the cluster's security.protocol, sasl.*, ssl.* settings.")
    Path kafkaConfig;

    @Option(names = "--replication-factor", defaultValue = "0", description = "Replicas of each topic this process creates (default: "
            + "as many as the cluster has brokers, at most 3; 2 must acknowledge a write when there are more than one).")
    int replicationFactor;

    @Option(names = "--kafka-port", defaultValue = "0", description = "Port of the embedded broker on 127.0.0.1, so other processes can "
            + "join it with --kafka-bootstrap 127.0.0.1:PORT (default: a free one). Not with --kafka-bootstrap.")
    int kafkaPort;

    @Option(names = "--data", paramLabel = "DIR", defaultValue = "condense-data", description = "Data folder: blobs, embedded Kafka log, scratch (default: ${DEFAULT-VALUE}).")
    Path data;

    @Option(names = "--plugins", paramLabel = "DIR", description = "Plugins folder (default: the repository's build/plugins).")
    Path plugins;

    @Option(names = "--role", defaultValue = "all", description = "all, api or worker (default: ${DEFAULT-VALUE}).")
    String role;

    @Option(names = "--instance-id", description = "Name of this process in Kafka (transactional ids, consumer group members); default: the host name "
            + "(HOSTNAME, a pod's name) and a random part, new for every start. A second process given an id in use refuses to start.")
    String instanceId;

    @Option(names = "--blob-store", paramLabel = "s3://BUCKET/PREFIX", description = "Keep blobs in an S3 bucket (AWS S3 or an "
            + "S3-compatible server) instead of DATA/blobs, so processes on different machines share them; credentials from "
            + "AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or the AWS profile.")
    String blobStore;

    @Option(names = "--s3-endpoint", paramLabel = "URL", description = "The S3 endpoint of --blob-store, for an S3-compatible server "
            + "(requests are then path-style); default: AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, else AWS S3.")
    String s3Endpoint;

    @Option(names = "--s3-region", description = "The region of --blob-store's bucket (default: AWS_REGION or the AWS profile; "
            + "us-east-1 with an endpoint).")
    String s3Region;

    @Option(names = "--blob-retention", paramLabel = "DURATION", defaultValue = "7d", description = "How long a blob no job or channel "
            + "needs any more (an upload never used, a finished job's models and report) is kept before it is removed "
            + "(default: ${DEFAULT-VALUE}; 12h, 30m, 90s).")
    String blobRetention;

    @Option(names = "--max-blob-bytes", defaultValue = "2147483648", description = "Largest upload in bytes (default: ${DEFAULT-VALUE}).")
    long maxBlobBytes;

    @Option(names = "--step-partitions", defaultValue = "4", description = "Partitions of each step topic created by this server (default: ${DEFAULT-VALUE}).")
    int stepPartitions;

    @Option(names = "--worker-threads", defaultValue = "2", description = "Step consumers per technique in this process (default: ${DEFAULT-VALUE}).")
    int workerThreads;

    @Option(names = "--tls-cert", paramLabel = "CERT.pem", description = "Serve gRPC over TLS with this certificate chain (PEM); needs --tls-key.")
    Path tlsCertificate;

    @Option(names = "--tls-key", paramLabel = "KEY.pem", description = "The private key of --tls-cert (PKCS#8 PEM).")
    Path tlsKey;

    @Option(names = "--tls-client-ca", paramLabel = "CA.pem", description = "Mutual TLS: refuse clients without a certificate signed by this CA.")
    Path tlsClientCa;

    @Option(names = "--auth-tokens", paramLabel = "FILE", description = "Refuse calls without a bearer token listed (as its SHA-256) in this "
            + "file, one 'sha256:<hex> <tenant> [jobs=N] [stored=SIZE]' a line (optional limits of the tenant: jobs queued or "
            + "running, bytes held; see docs/SECURITY.md).")
    Path authTokens;

    @Option(names = "--no-reflection", description = "Do not offer gRPC server reflection (it describes the API, not data).")
    boolean noReflection;

    @Override
    public Integer call() throws Exception {
        Role parsedRole;
        try {
            parsedRole = Role.valueOf(role.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            System.err.println("Unknown role '" + role + "': use all, api or worker");
            return 2;
        }
        PlatformConfig config = new PlatformConfig(host, grpcPort, metricsPort, Optional.ofNullable(kafkaBootstrap), data,
                plugins == null ? DefaultLocations.pluginsFolder() : plugins, parsedRole, Optional.ofNullable(instanceId), maxBlobBytes,
                stepPartitions, workerThreads);
        try {
            ApiSecurity security = new ApiSecurity(Optional.ofNullable(tlsCertificate), Optional.ofNullable(tlsKey),
                    Optional.ofNullable(tlsClientCa), Optional.ofNullable(authTokens));
            config = config.withSecurity(noReflection ? security.withoutReflection() : security);
            if (kafkaPort != 0 && kafkaBootstrap != null) {
                throw new IllegalArgumentException("--kafka-port sets the embedded broker's port; with --kafka-bootstrap there is none");
            }
            config = config.withKafka(new KafkaOptions(kafkaConfig == null ? java.util.Map.of() : KafkaOptions.readProperties(kafkaConfig),
                    replicationFactor, kafkaPort));
            if (blobStore == null && (s3Endpoint != null || s3Region != null)) {
                throw new IllegalArgumentException("--s3-endpoint and --s3-region go with --blob-store s3://BUCKET/PREFIX");
            }
            config = config.withBlobs(new BlobOptions(Optional.ofNullable(blobStore)
                    .map(url -> S3Location.parse(url, Optional.ofNullable(s3Endpoint), Optional.ofNullable(s3Region))),
                    DurationText.parse("--blob-retention", blobRetention)));
        } catch (IllegalArgumentException | CondenseException e) {
            System.err.println("condense serve: " + e.getMessage());
            return 2;
        }
        CondensePlatform platform;
        try {
            platform = CondensePlatform.start(config);
        } catch (CondenseException e) {
            System.err.println("condense serve: " + e.getMessage());
            return e.category() == ErrorCategory.USER ? 2 : 3;
        }
        Runtime.getRuntime().addShutdownHook(new Thread(platform::close, "condense-shutdown"));
        // a part that cannot come back stopped (a fenced producer, a dead step consumer): exit so that it is restarted
        platform.fatalProblem().thenAccept(reason -> new Thread(() -> {
            System.err.println("condense serve: exiting: " + reason);
            System.exit(EXIT_CANNOT_WORK);
        }, "condense-exit").start());
        System.out.println("Condense serving: gRPC " + (platform.grpcPort() < 0 ? "off" : platform.grpcTarget())
                + ", metrics " + platform.metricsPort().map(port -> "http://" + host + ":" + port + "/metrics").orElse("off")
                + ", Kafka " + platform.kafkaBootstrapServers() + ", techniques " + platform.plugins().techniques().keySet()
                + ", instance " + platform.instanceId() + ", pid " + ProcessHandle.current().pid());
        System.out.flush();
        platform.awaitTermination();
        return 0;
    }
}
