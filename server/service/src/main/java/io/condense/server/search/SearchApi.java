package io.condense.server.search;

import static java.util.Objects.requireNonNull;

import io.condense.server.api.CompressionService;
import io.condense.server.cli.CondenseClient;
import io.condense.server.security.Tenants;
import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.stub.MetadataUtils;
import java.io.IOException;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

/**
 * This process's API as the searches call it: the same {@link CompressionService} on an in-process gRPC server that only
 * this process can reach, each call made as the tenant of the search job (the candidates are that tenant's jobs, reading
 * that tenant's blobs). The tenant travels in a header that only this in-process server reads; the network API never
 * does, so no client can choose its tenant.
 */
public final class SearchApi implements AutoCloseable {
    private static final Metadata.Key<String> TENANT = Metadata.Key.of("condense-search-tenant", Metadata.ASCII_STRING_MARSHALLER);

    private final String name = "condense-search-" + UUID.randomUUID();
    private final Server server;

    private SearchApi(CompressionService service) throws IOException {
        this.server = InProcessServerBuilder.forName(name)
                .addService(ServerInterceptors.intercept(service, new TenantFromHeader())).build().start();
    }

    public static SearchApi start(CompressionService service) {
        requireNonNull(service, "service is null");
        try {
            return new SearchApi(service);
        } catch (IOException e) {
            throw new io.condense.sdk.error.CondenseException(io.condense.sdk.error.ErrorCode.UNAVAILABLE,
                    "cannot start the searches' in-process API: " + e.getMessage(), e);
        }
    }

    /** A client calling as {@code tenant} ("" on a server without tokens); closing it closes its channel. */
    public CondenseClient client(String tenant) {
        Metadata headers = new Metadata();
        headers.put(TENANT, tenant);
        return new CondenseClient(InProcessChannelBuilder.forName(name).maxInboundMessageSize(4 * CompressionService.MAX_CHUNK_BYTES)
                .intercept(MetadataUtils.newAttachHeadersInterceptor(headers)).build());
    }

    @Override
    public void close() throws InterruptedException {
        server.shutdown();
        if (!server.awaitTermination(5, TimeUnit.SECONDS)) {
            server.shutdownNow();
        }
    }

    private static final class TenantFromHeader implements ServerInterceptor {
        @Override
        public <Q, A> ServerCall.Listener<Q> interceptCall(ServerCall<Q, A> call, Metadata headers, ServerCallHandler<Q, A> next) {
            String tenant = headers.get(TENANT);
            Context context = Context.current().withValue(Tenants.TENANT, tenant == null ? "" : tenant);
            return Contexts.interceptCall(context, call, headers, next);
        }
    }
}
