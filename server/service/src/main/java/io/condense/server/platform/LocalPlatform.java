package io.condense.server.platform;

import static java.util.Objects.requireNonNull;

import io.condense.server.api.CompressionService;
import io.condense.server.blob.BlobStore;
import io.condense.server.bus.EventsSync;
import io.condense.server.job.JobView;
import io.condense.server.metrics.StepMetrics;
import io.condense.server.plugin.PluginHost;
import io.condense.server.search.SearchApi;
import io.condense.server.search.SearchStep;
import io.condense.server.worker.InProcessBus;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

/**
 * The platform of a one-shot local command ({@code condense compress} without {@code --server}): the same gRPC API
 * ({@link CompressionService}), job view, step runner and plugins as {@link CondensePlatform}, served on an in-process
 * gRPC channel, with an {@link InProcessBus} where the server has Kafka. Starting it costs loading the plugins and
 * nothing else: no broker, no ports. {@code condense serve} and every multi-process deployment use
 * {@link CondensePlatform}.
 */
public final class LocalPlatform implements AutoCloseable {
    private final PluginHost plugins;
    private final InProcessBus bus;
    private final Server server;
    private final SearchApi searchApi;
    private final String name = "condense-local-" + UUID.randomUUID();

    private LocalPlatform(PluginHost plugins, Path dataFolder) throws IOException {
        this.plugins = plugins;
        // the command's own files in its own temporary folder: no limit on a file's size (a model's data file may be over 2 GiB)
        BlobStore blobs = new BlobStore(dataFolder.resolve("blobs"), Long.MAX_VALUE);
        JobView jobs = new JobView();
        this.bus = new InProcessBus(plugins, blobs, new StepMetrics(new SimpleMeterRegistry()), dataFolder.resolve("scratch"), List.of(jobs));
        CompressionService service = new CompressionService(blobs, plugins, jobs, EventsSync.NONE, bus);
        this.server = InProcessServerBuilder.forName(name).addService(service).build().start();
        // a search job's candidates are jobs of this same API; nothing here is durable, so a search is not resumed
        this.searchApi = SearchApi.start(service);
        bus.runSearchesWith(new SearchStep(blobs, searchApi::client, bus, bus::isCancelled, "local")::run);
    }

    /**
     * @param plugins the loaded plugins; the platform closes them when it closes
     * @param dataFolder where blobs and scratch files go (a temporary folder the caller deletes)
     */
    public static LocalPlatform start(PluginHost plugins, Path dataFolder) {
        requireNonNull(plugins, "plugins is null");
        requireNonNull(dataFolder, "dataFolder is null");
        try {
            return new LocalPlatform(plugins, dataFolder);
        } catch (IOException e) {
            plugins.close();
            throw new io.condense.sdk.error.CondenseException(io.condense.sdk.error.ErrorCode.UNAVAILABLE,
                    "cannot start the in-process API: " + e.getMessage(), e);
        }
    }

    /** A channel to the in-process API, for {@code CondenseClient}. */
    public ManagedChannel channel() {
        return InProcessChannelBuilder.forName(name).maxInboundMessageSize(4 * CompressionService.MAX_CHUNK_BYTES).build();
    }

    @Override
    public void close() throws InterruptedException {
        server.shutdown();
        if (!server.awaitTermination(5, TimeUnit.SECONDS)) {
            server.shutdownNow();
        }
        bus.close();
        searchApi.close();
        plugins.close();
    }
}
