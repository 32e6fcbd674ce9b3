package io.condense.server.platform;

import static java.util.Objects.requireNonNull;

import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.protobuf.services.HealthStatusManager;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps gRPC health true to what the process can do, checked every few seconds once the platform is ready:
 * NOT_SERVING while the Kafka cluster cannot be reached (and SERVING again when it can, the clients reconnect by
 * themselves), and NOT_SERVING for good when a part that cannot come back has stopped (a fenced producer, a dead step
 * consumer): {@link #fatal()} then completes with the reason, so the process exits and its orchestrator restarts it.
 */
final class HealthMonitor implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(HealthMonitor.class);

    /** One thing the process needs; empty while it is fine, else why not. */
    record Check(String name, Supplier<Optional<String>> problem, boolean fatal) {
        Check {
            requireNonNull(name, "name is null");
            requireNonNull(problem, "problem is null");
        }
    }

    private final HealthStatusManager health;
    private final List<String> services;
    private final List<Check> checks;
    private final CompletableFuture<String> fatal = new CompletableFuture<>();
    private final ScheduledExecutorService scheduler = Executors.newSingleThreadScheduledExecutor(runnable -> {
        Thread thread = new Thread(runnable, "condense-health");
        thread.setDaemon(true);
        return thread;
    });
    private volatile List<String> problems = List.of();

    HealthMonitor(HealthStatusManager health, List<String> services, List<Check> checks) {
        this.health = requireNonNull(health, "health is null");
        this.services = List.copyOf(requireNonNull(services, "services is null"));
        this.checks = List.copyOf(requireNonNull(checks, "checks is null"));
    }

    void start(Duration interval) {
        scheduler.scheduleWithFixedDelay(this::check, 0, interval.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** Completes with the reason once a part that cannot recover has stopped. */
    CompletableFuture<String> fatal() {
        return fatal;
    }

    /** What is wrong now; empty while the process is serving. */
    List<String> problems() {
        return problems;
    }

    void check() {
        List<String> found = new ArrayList<>();
        String fatalProblem = null;
        for (Check check : checks) {
            Optional<String> problem;
            try {
                problem = check.problem().get();
            } catch (RuntimeException e) {
                problem = Optional.of(check.name() + " could not be checked: " + e);
            }
            if (problem.isPresent()) {
                found.add(problem.get());
                if (check.fatal() && fatalProblem == null) {
                    fatalProblem = problem.get();
                }
            }
        }
        List<String> before = problems;
        problems = List.copyOf(found);
        // after a part stopped for good, the process never serves again, whatever the checks say now
        ServingStatus status = found.isEmpty() && !fatal.isDone() ? ServingStatus.SERVING : ServingStatus.NOT_SERVING;
        if (!found.equals(before)) {
            if (found.isEmpty()) {
                log.info("Serving again");
            } else {
                log.error("Not serving: {}", String.join("; ", found));
            }
        }
        for (String service : services) {
            health.setStatus(service, status);
        }
        if (fatalProblem != null) {
            fatal.complete(fatalProblem);
        }
    }

    @Override
    public void close() {
        scheduler.shutdownNow();
    }
}
