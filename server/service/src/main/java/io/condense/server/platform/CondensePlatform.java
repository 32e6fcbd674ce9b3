package io.condense.server.platform;

import static java.util.Objects.requireNonNull;

import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.server.api.CompressionService;
import io.condense.server.api.SubmitPublisher;
import io.condense.server.blob.BlobStore;
import io.condense.server.bus.EmbeddedKafka;
import io.condense.server.bus.EventListener;
import io.condense.server.bus.EventsReader;
import io.condense.server.bus.KafkaSettings;
import io.condense.server.bus.TopicAdmin;
import io.condense.server.job.JobView;
import io.condense.server.metrics.GrpcServerMetrics;
import io.condense.server.metrics.KafkaClientBinder;
import io.condense.server.metrics.MetricsEndpoint;
import io.condense.server.metrics.StepMetrics;
import io.condense.server.plugin.PluginHost;
import io.condense.server.worker.Cancellations;
import io.condense.server.worker.StepAttempts;
import io.condense.server.worker.Worker;
import io.grpc.Server;
import io.grpc.ServerInterceptors;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.protobuf.services.HealthStatusManager;
import io.grpc.protobuf.services.ProtoReflectionServiceV1;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One Condense server process: blob store, Kafka (embedded or external), the plugin host, the events
 * reader and job view, the step workers, the gRPC API with health and reflection, and /metrics. Health
 * stays NOT_SERVING until Kafka, the plugins and the workers are ready.
 */
public final class CondensePlatform implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(CondensePlatform.class);
    private static final Duration READY_TIMEOUT = Duration.ofSeconds(120);

    private final Deque<AutoCloseable> resources = new ArrayDeque<>();
    private final PlatformConfig config;
    private final PrometheusMeterRegistry registry;
    private final HealthStatusManager health = new HealthStatusManager();
    private Server grpcServer;
    private MetricsEndpoint metricsEndpoint;
    private PluginHost plugins;
    private String bootstrapServers;
    private JvmGcMetrics gcMetrics;

    private CondensePlatform(PlatformConfig config) {
        this.config = requireNonNull(config, "config is null");
        this.registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    }

    public static CondensePlatform start(PlatformConfig config) {
        CondensePlatform platform = new CondensePlatform(config);
        try {
            platform.startAll();
            return platform;
        } catch (RuntimeException | Error e) {
            platform.close();
            throw e;
        }
    }

    private void startAll() {
        long started = System.nanoTime();
        createFolder(config.dataFolder());
        String instanceId = config.instanceId().orElseGet(() -> InstanceId.readOrCreate(config.dataFolder()));
        health.setStatus("", ServingStatus.NOT_SERVING);
        health.setStatus(io.condense.proto.v1.CompressionServiceGrpc.SERVICE_NAME, ServingStatus.NOT_SERVING);

        new JvmMemoryMetrics().bindTo(registry);
        gcMetrics = new JvmGcMetrics();
        gcMetrics.bindTo(registry);
        new JvmThreadMetrics().bindTo(registry);
        new ClassLoaderMetrics().bindTo(registry);
        new ProcessorMetrics().bindTo(registry);
        new UptimeMetrics().bindTo(registry);
        if (config.metricsPort() >= 0) {
            metricsEndpoint = MetricsEndpoint.start(config.host(), config.metricsPort(), registry);
            resources.push(metricsEndpoint);
        }

        BlobStore blobs = new BlobStore(config.dataFolder().resolve("blobs"), config.maxBlobBytes());
        plugins = PluginHost.load(config.pluginsFolder());
        resources.push(plugins);

        if (config.kafkaBootstrap().isPresent()) {
            bootstrapServers = config.kafkaBootstrap().get();
        } else {
            EmbeddedKafka kafka = EmbeddedKafka.start(config.dataFolder().resolve("kafka"));
            resources.push(kafka);
            bootstrapServers = kafka.bootstrapServers();
        }
        KafkaSettings settings = new KafkaSettings(bootstrapServers, config.stepPartitions());
        new TopicAdmin(settings).ensureTopics(plugins.techniques().keySet());
        KafkaClientBinder binder = new KafkaClientBinder(registry);
        resources.push(binder);
        StepMetrics stepMetrics = new StepMetrics(registry);

        JobView jobs = new JobView();
        Cancellations cancellations = new Cancellations();
        StepAttempts attempts = new StepAttempts();
        List<EventListener> listeners = new ArrayList<>();
        listeners.add(cancellations);
        if (config.role().runsWorker()) {
            listeners.add(attempts);
        }
        if (config.role().runsApi()) {
            listeners.add(jobs);
            Gauge.builder(StepMetrics.JOBS_IN_FLIGHT, jobs, JobView::inFlight).description("Jobs accepted and not yet ended").register(registry);
        }
        EventsReader events = new EventsReader(settings, "condense-events-" + instanceId, listeners, binder);
        resources.push(events);
        events.start();

        Worker worker = null;
        if (config.role().runsWorker()) {
            worker = new Worker(plugins, blobs, cancellations, stepMetrics, settings, instanceId, config.dataFolder().resolve("scratch"),
                    config.workerThreads(), binder, attempts, events::isCaughtUp);
            resources.push(worker);
            worker.start();
        }

        if (config.role().runsApi()) {
            SubmitPublisher publisher = new SubmitPublisher(settings, instanceId, binder);
            resources.push(publisher);
            CompressionService service = new CompressionService(blobs, plugins, jobs, events, publisher);
            try {
                grpcServer = NettyServerBuilder.forAddress(new InetSocketAddress(config.host(), config.grpcPort()))
                        .maxInboundMessageSize(CompressionService.MAX_CHUNK_BYTES + 64 * 1024)
                        .addService(ServerInterceptors.intercept(service, new GrpcServerMetrics(registry)))
                        .addService(health.getHealthService())
                        .addService(ProtoReflectionServiceV1.newInstance())
                        .build()
                        .start();
            } catch (IOException e) {
                throw new CondenseException(ErrorCode.UNAVAILABLE, "cannot serve gRPC on " + config.host() + ":" + config.grpcPort() + ": " + e.getMessage(), e);
            }
            resources.push(() -> {
                grpcServer.shutdown();
                if (!grpcServer.awaitTermination(5, TimeUnit.SECONDS)) {
                    grpcServer.shutdownNow();
                }
            });
        }

        try {
            if (!events.awaitCaughtUp(READY_TIMEOUT)) {
                throw new CondenseException(ErrorCode.UNAVAILABLE, "the events topic could not be read within " + READY_TIMEOUT.toSeconds() + " s");
            }
            if (worker != null && !worker.awaitReady(READY_TIMEOUT)) {
                throw new CondenseException(ErrorCode.UNAVAILABLE, "the step consumers did not start within " + READY_TIMEOUT.toSeconds() + " s");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CondenseException(ErrorCode.UNAVAILABLE, "interrupted while starting", e);
        }
        health.setStatus("", ServingStatus.SERVING);
        health.setStatus(io.condense.proto.v1.CompressionServiceGrpc.SERVICE_NAME, ServingStatus.SERVING);
        log.info("Condense ready in {} ms: role {}, gRPC {}, metrics {}, Kafka {}, {} technique(s) {}{}",
                (System.nanoTime() - started) / 1_000_000, config.role().name().toLowerCase(java.util.Locale.ROOT),
                grpcServer == null ? "off" : config.host() + ":" + grpcServer.getPort(),
                metricsEndpoint == null ? "off" : "http://" + config.host() + ":" + metricsEndpoint.port() + "/metrics",
                bootstrapServers, plugins.techniques().size(), plugins.techniques().keySet(),
                plugins.problems().isEmpty() ? "" : ", " + plugins.problems().size() + " plugin(s) not loaded");
    }

    /** The gRPC port (useful with port 0); -1 when this process runs no API. */
    public int grpcPort() {
        return grpcServer == null ? -1 : grpcServer.getPort();
    }

    /** "host:port" of the gRPC API. */
    public String grpcTarget() {
        return config.host() + ":" + grpcPort();
    }

    public Optional<Integer> metricsPort() {
        return metricsEndpoint == null ? Optional.empty() : Optional.of(metricsEndpoint.port());
    }

    public String kafkaBootstrapServers() {
        return bootstrapServers;
    }

    public PluginHost plugins() {
        return plugins;
    }

    public PrometheusMeterRegistry registry() {
        return registry;
    }

    /** Blocks until the gRPC server stops (for {@code condense serve}). */
    public void awaitTermination() throws InterruptedException {
        if (grpcServer != null) {
            grpcServer.awaitTermination();
        } else {
            new java.util.concurrent.CountDownLatch(1).await();
        }
    }

    @Override
    public void close() {
        health.enterTerminalState();
        while (!resources.isEmpty()) {
            AutoCloseable resource = resources.pop();
            try {
                resource.close();
            } catch (Exception e) {
                log.warn("Error while stopping {}: {}", resource.getClass().getSimpleName(), e.toString());
            }
        }
        if (gcMetrics != null) {
            gcMetrics.close();
        }
        registry.close();
    }

    private static void createFolder(Path folder) {
        try {
            Files.createDirectories(folder);
        } catch (IOException e) {
            throw new CondenseException(ErrorCode.UNAVAILABLE, "cannot create the data folder " + folder + ": " + e.getMessage(), e);
        }
    }
}
