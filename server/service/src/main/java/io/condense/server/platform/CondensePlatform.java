package io.condense.server.platform;

import static java.util.Objects.requireNonNull;

import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.server.api.CompressionService;
import io.condense.server.api.SubmitPublisher;
import io.condense.server.api.PipelineValidator;
import io.condense.server.blob.BlobCollector;
import io.condense.server.blob.BlobReferences;
import io.condense.server.blob.BlobStore;
import io.condense.server.channel.ChannelSequencer;
import io.condense.server.channel.ChannelService;
import io.condense.server.channel.ChannelView;
import io.condense.server.channel.ChannelWriter;
import io.condense.server.channel.KafkaPushLog;
import io.condense.server.bus.EmbeddedKafka;
import io.condense.server.bus.CommittedEvents;
import io.condense.server.bus.EventListener;
import io.condense.server.bus.EventSender;
import io.condense.server.bus.EventsReader;
import io.condense.server.bus.KafkaReachability;
import io.condense.server.bus.KafkaSettings;
import io.condense.server.bus.TopicAdmin;
import io.condense.server.job.JobView;
import io.condense.server.job.Submissions;
import io.condense.server.metrics.GrpcServerMetrics;
import io.condense.server.metrics.KafkaClientBinder;
import io.condense.server.metrics.MetricsEndpoint;
import io.condense.server.metrics.StepMetrics;
import io.condense.server.plugin.PluginHost;
import io.condense.server.search.SearchApi;
import io.condense.server.search.SearchStep;
import io.condense.server.search.SearchWorker;
import io.condense.server.security.ApiSecurity;
import io.condense.server.security.TokenAuthenticator;
import io.condense.server.worker.Cancellations;
import io.condense.server.worker.StepAttempts;
import io.condense.server.worker.Worker;
import io.grpc.Server;
import io.grpc.ServerInterceptors;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.protobuf.services.HealthStatusManager;
import io.grpc.protobuf.services.ProtoReflectionServiceV1;
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
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
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
    private static final Duration HEALTH_INTERVAL = Duration.ofSeconds(2);

    private final Deque<AutoCloseable> resources = new ArrayDeque<>();
    private final PlatformConfig config;
    private final PrometheusMeterRegistry registry;
    private final HealthStatusManager health = new HealthStatusManager();
    private Server grpcServer;
    private MetricsEndpoint metricsEndpoint;
    private PluginHost plugins;
    private String bootstrapServers;
    private JvmGcMetrics gcMetrics;
    private volatile HealthMonitor monitor;
    private volatile boolean closing;
    private String instanceId;

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
        String instanceId = config.instanceId().map(InstanceId::checkExplicit).orElseGet(InstanceId::unique);
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
            metricsEndpoint.serveHealth(this::healthProblems);
            resources.push(metricsEndpoint);
        }

        BlobStore blobs = config.blobs().open(config.dataFolder().resolve("blobs"), config.maxBlobBytes());
        resources.push(blobs);
        plugins = PluginHost.load(config.pluginsFolder());
        resources.push(plugins);

        if (config.kafkaBootstrap().isPresent()) {
            bootstrapServers = config.kafkaBootstrap().get();
        } else {
            EmbeddedKafka kafka = EmbeddedKafka.start(config.dataFolder().resolve("kafka"), config.kafka().embeddedBrokerPort());
            resources.push(kafka);
            bootstrapServers = kafka.bootstrapServers();
        }
        KafkaSettings settings = new KafkaSettings(bootstrapServers, config.stepPartitions(), config.kafka());
        java.util.Set<String> stepTopics = new java.util.TreeSet<>(plugins.techniques().keySet());
        stepTopics.add(SearchStep.TECHNIQUE);
        new TopicAdmin(settings).ensureTopics(stepTopics);
        resources.push(InstanceLease.acquire(settings, instanceId));
        this.instanceId = instanceId;
        KafkaClientBinder binder = new KafkaClientBinder(registry);
        resources.push(binder);
        StepMetrics stepMetrics = new StepMetrics(registry);

        JobView jobs = new JobView();
        ChannelView channels = new ChannelView(registry);
        Cancellations cancellations = new Cancellations();
        StepAttempts attempts = new StepAttempts();
        Submissions submissions = new Submissions();
        List<EventListener> listeners = new ArrayList<>();
        listeners.add(cancellations);
        if (config.role().runsWorker()) {
            listeners.add(attempts);
            listeners.add(submissions);
        }
        BlobReferences blobReferences = new BlobReferences();
        if (config.role().runsApi()) {
            listeners.add(jobs);
            listeners.add(channels);
            listeners.add(blobReferences);
        }
        EventsReader events = new EventsReader(settings, "condense-events-" + instanceId, listeners, binder);
        resources.push(events);
        events.start();

        Worker worker = null;
        if (config.role().runsWorker()) {
            Path scratch = ScratchSpace.prepare(config.dataFolder().resolve("scratch"), instanceId, settings);
            worker = new Worker(plugins.techniques().values(), blobs, cancellations, stepMetrics, settings, instanceId, scratch,
                    config.workerThreads(), binder, attempts, submissions, events,
                    // in a process that also serves the API, its watchers see an outcome as soon as it is committed
                    config.role().runsApi() ? jobs::onCommitted : CommittedEvents.NONE);
            resources.push(worker);
            worker.start();
        }

        SubmitPublisher publisher = null;
        ChannelSequencer sequencer = null;
        SearchWorker searches = null;
        if (config.role().runsApi()) {
            publisher = new SubmitPublisher(settings, instanceId, binder);
            resources.push(publisher);
            KafkaPushLog pushLog = new KafkaPushLog(settings, instanceId, binder);
            resources.push(pushLog);
            sequencer = ChannelSequencer.of(blobs, channels, jobs, events, settings, instanceId, binder);
            resources.push(sequencer);
            sequencer.start();
            CompressionService service = new CompressionService(blobs, plugins, jobs, events, publisher);
            ChannelWriter channelWriter = new ChannelWriter(blobs, new PipelineValidator(plugins), channels, jobs, events, publisher::publishAll, pushLog);
            resources.push(channelWriter);
            ChannelService channelService = new ChannelService(blobs, channels, channelWriter);
            searches = startSearches(service, blobs, cancellations, jobs, events, settings, instanceId, binder);
            if (metricsEndpoint != null) {
                metricsEndpoint.serveReports(id -> jobs.job(id).filter(job -> job.hasReport())
                        .map(job -> io.condense.server.report.Structs.toMap(job.getReport())), config.security().authTokens().isPresent());
            }
            try {
                ApiSecurity security = config.security();
                NettyServerBuilder builder = security.tls()
                        ? NettyServerBuilder.forAddress(new InetSocketAddress(config.host(), config.grpcPort()), serverCredentials(security))
                        : NettyServerBuilder.forAddress(new InetSocketAddress(config.host(), config.grpcPort()));
                // interceptors run last-added first: metrics see every call, refused ones included
                TokenAuthenticator authenticator = security.authTokens().map(TokenAuthenticator::load).orElse(null);
                builder.maxInboundMessageSize(CompressionService.MAX_CHUNK_BYTES + 64 * 1024);
                GrpcServerMetrics grpcMetrics = new GrpcServerMetrics(registry);
                for (io.grpc.BindableService bindable : List.<io.grpc.BindableService>of(service, channelService)) {
                    io.grpc.ServerServiceDefinition api = authenticator != null
                            ? ServerInterceptors.intercept(bindable, authenticator)
                            : ServerInterceptors.intercept(bindable);
                    builder.addService(ServerInterceptors.intercept(api, grpcMetrics));
                }
                builder
                        .addService(health.getHealthService());
                if (security.reflection()) {
                    builder.addService(ProtoReflectionServiceV1.newInstance());
                }
                grpcServer = builder.build().start();
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
        if (config.role().runsApi()) {
            BlobCollector collector = new BlobCollector(blobs, blobReferences, config.blobs().retention(), events::isCaughtUp, Clock.systemUTC());
            resources.push(collector);
            collector.start();
            ClusterMetrics clusterMetrics = new ClusterMetrics(settings, instanceId, registry, jobs, plugins.techniques().keySet());
            resources.push(clusterMetrics);
            clusterMetrics.start();
        }
        KafkaReachability kafkaReachability = new KafkaReachability(settings);
        resources.push(kafkaReachability);
        List<HealthMonitor.Check> checks = new ArrayList<>();
        checks.add(new HealthMonitor.Check("kafka", kafkaReachability::problem, false));
        checks.add(new HealthMonitor.Check("events", events::problem, true));
        if (worker != null) {
            checks.add(new HealthMonitor.Check("worker", worker::problem, true));
        }
        if (publisher != null) {
            checks.add(new HealthMonitor.Check("api", publisher::problem, true));
        }
        if (sequencer != null) {
            checks.add(new HealthMonitor.Check("channels", sequencer::problem, true));
        }
        if (searches != null) {
            checks.add(new HealthMonitor.Check("searches", searches::problem, true));
        }
        monitor = new HealthMonitor(health, List.of("", io.condense.proto.v1.CompressionServiceGrpc.SERVICE_NAME), checks);
        resources.push(monitor);
        monitor.start(HEALTH_INTERVAL);
        log.info("Condense ready in {} ms: role {}, gRPC {}, metrics {}, Kafka {}, {} technique(s) {}{}",
                (System.nanoTime() - started) / 1_000_000, config.role().name().toLowerCase(java.util.Locale.ROOT),
                grpcServer == null ? "off" : config.host() + ":" + grpcServer.getPort(),
                metricsEndpoint == null ? "off" : "http://" + config.host() + ":" + metricsEndpoint.port() + "/metrics",
                bootstrapServers, plugins.techniques().size(), plugins.techniques().keySet(),
                plugins.problems().isEmpty() ? "" : ", " + plugins.problems().size() + " plugin(s) not loaded");
    }

    /**
     * The search jobs' runner of an API process: the searches call the API in process, as each job's tenant, and their
     * step records are consumed by every API process's search consumer in one group.
     */
    private SearchWorker startSearches(CompressionService service, BlobStore blobs, Cancellations cancellations, JobView jobs,
            EventsReader events, KafkaSettings settings, String instanceId, KafkaClientBinder binder) {
        SearchApi api = SearchApi.start(service);
        resources.push(api);
        EventSender sender = new EventSender(settings, "condense-search-events-" + instanceId, binder);
        resources.push(sender);
        SearchWorker worker = new SearchWorker(new SearchStep(blobs, api::client, sender, cancellations::isCancelled, instanceId), sender,
                jobs::onCommitted, events::isCaughtUp, settings, instanceId, binder);
        resources.push(worker);
        worker.start();
        return worker;
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

    /** This process's name in Kafka: the explicit {@code --instance-id}, or the host name and a random part. */
    public String instanceId() {
        return instanceId;
    }

    /**
     * Completes with the reason once a part of this process that cannot recover has stopped (a fenced producer, a dead
     * step consumer); health is then NOT_SERVING for good and the process should exit so that it is restarted.
     */
    public CompletableFuture<String> fatalProblem() {
        return monitor == null ? new CompletableFuture<>() : monitor.fatal();
    }

    /** Why the process is not serving now (Kafka unreachable, a stopped part); empty while it serves. */
    public List<String> problems() {
        return monitor == null ? List.of() : monitor.problems();
    }

    /** What {@code /health} answers: empty while serving. */
    private List<String> healthProblems() {
        HealthMonitor current = monitor;
        if (closing) {
            return List.of("stopping");
        }
        if (current == null) {
            return List.of("starting");
        }
        List<String> problems = new ArrayList<>(current.problems());
        String fatal = current.fatal().getNow(null);
        if (fatal != null && !problems.contains(fatal)) {
            problems.add(0, fatal);
        }
        return problems;
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
        closing = true;
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

    /** TLS, and mutual TLS when a client CA is given: clients without a certificate it signed are refused in the handshake. */
    private static io.grpc.ServerCredentials serverCredentials(ApiSecurity security) {
        try {
            io.grpc.TlsServerCredentials.Builder tls = io.grpc.TlsServerCredentials.newBuilder()
                    .keyManager(security.tlsCertificate().get().toFile(), security.tlsKey().get().toFile());
            if (security.tlsClientCa().isPresent()) {
                tls.trustManager(security.tlsClientCa().get().toFile()).clientAuth(io.grpc.TlsServerCredentials.ClientAuth.REQUIRE);
            }
            return tls.build();
        } catch (IOException | RuntimeException e) {
            throw new CondenseException(ErrorCode.INVALID_PARAMETER, "cannot use the TLS certificate " + security.tlsCertificate().get()
                    + ", key " + security.tlsKey().get() + security.tlsClientCa().map(ca -> " and client CA " + ca).orElse("") + ": "
                    + e.getMessage(), e);
        }
    }

    private static void createFolder(Path folder) {
        try {
            Files.createDirectories(folder);
        } catch (IOException e) {
            throw new CondenseException(ErrorCode.UNAVAILABLE, "cannot create the data folder " + folder + ": " + e.getMessage(), e);
        }
    }
}
