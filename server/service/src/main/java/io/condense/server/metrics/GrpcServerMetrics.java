package io.condense.server.metrics;

import static java.util.Objects.requireNonNull;

import io.grpc.ForwardingServerCall.SimpleForwardingServerCall;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;

/**
 * Counts and times gRPC calls by method and status code (grpc-java has no Micrometer binder):
 * {@code condense.grpc.server.calls} and {@code condense.grpc.server.call.duration}, tagged
 * {@code service}, {@code method} and {@code status}.
 */
public final class GrpcServerMetrics implements ServerInterceptor {
    public static final String CALLS = "condense.grpc.server.calls";
    public static final String DURATION = "condense.grpc.server.call.duration";

    private final MeterRegistry registry;

    public GrpcServerMetrics(MeterRegistry registry) {
        this.registry = requireNonNull(registry, "registry is null");
    }

    @Override
    public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
        long started = System.nanoTime();
        String service = call.getMethodDescriptor().getServiceName();
        String method = call.getMethodDescriptor().getBareMethodName();
        ServerCall<Q, R> measured = new SimpleForwardingServerCall<>(call) {
            @Override
            public void close(Status status, Metadata trailers) {
                String code = status.getCode().name();
                Counter.builder(CALLS).description("gRPC calls handled, by method and status")
                        .tags("service", service, "method", method, "status", code).register(registry).increment();
                Timer.builder(DURATION).description("Time to handle a gRPC call, by method and status")
                        .tags("service", service, "method", method, "status", code).register(registry)
                        .record(System.nanoTime() - started, java.util.concurrent.TimeUnit.NANOSECONDS);
                super.close(status, trailers);
            }
        };
        return next.startCall(measured, headers);
    }
}
