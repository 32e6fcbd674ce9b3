package io.condense.server.metrics;

import io.condense.server.report.ReportPage;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;

import static java.util.Objects.requireNonNull;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.function.Supplier;

/**
 * Serves {@code /metrics} in the Prometheus text format over the JDK's HTTP server, {@code /health}, and on API processes
 * {@code /jobs/<id>/report}.
 */
public final class MetricsEndpoint implements AutoCloseable {
    private final HttpServer server;

    private MetricsEndpoint(HttpServer server) {
        this.server = server;
    }

    public static MetricsEndpoint start(String host, int port, PrometheusMeterRegistry registry) {
        requireNonNull(registry, "registry is null");
        try {
            HttpServer server = HttpServer.create(new InetSocketAddress(host, port), 0);
            server.createContext("/metrics", exchange -> respond(exchange, registry));
            server.setExecutor(Executors.newSingleThreadExecutor(runnable -> {
                Thread thread = new Thread(runnable, "condense-metrics-http");
                thread.setDaemon(true);
                return thread;
            }));
            server.start();
            return new MetricsEndpoint(server);
        } catch (IOException e) {
            throw new CondenseException(ErrorCode.UNAVAILABLE, "cannot serve metrics on " + host + ":" + port + ": " + e.getMessage(), e);
        }
    }

    /**
     * Serves {@code /health} beside {@code /metrics}, for probes of processes without a gRPC server (workers): 200
     * {@code SERVING}, or 503 {@code NOT_SERVING} and the problems, one a line.
     */
    public void serveHealth(Supplier<List<String>> problems) {
        requireNonNull(problems, "problems is null");
        server.createContext("/health", exchange -> {
            try (exchange) {
                if (!"GET".equals(exchange.getRequestMethod())) {
                    exchange.sendResponseHeaders(405, -1);
                    return;
                }
                List<String> now = problems.get();
                byte[] body = (now.isEmpty() ? "SERVING\n" : "NOT_SERVING\n" + String.join("\n", now) + "\n").getBytes(StandardCharsets.UTF_8);
                exchange.getResponseHeaders().set("Content-Type", "text/plain; charset=utf-8");
                exchange.sendResponseHeaders(now.isEmpty() ? 200 : 503, body.length);
                try (OutputStream out = exchange.getResponseBody()) {
                    out.write(body);
                }
            }
        });
    }

    /**
     * Serves {@code /jobs/<id>/report}: the completed job's report as the HTML page {@code condense compress --html} writes.
     * 404 for a job the view does not hold or that has no report (yet); 403 when the API requires tokens, since this port
     * checks none (the report is then only for its tenant, through the API).
     *
     * @param reports a completed job's report by job id
     */
    public void serveReports(Function<String, Optional<Map<String, Object>>> reports, boolean tokensRequired) {
        requireNonNull(reports, "reports is null");
        server.createContext("/jobs/", exchange -> {
            try (exchange) {
                String[] parts = exchange.getRequestURI().getPath().split("/");
                if (!"GET".equals(exchange.getRequestMethod())) {
                    exchange.sendResponseHeaders(405, -1);
                    return;
                }
                if (parts.length != 4 || !parts[3].equals("report")) {
                    text(exchange, 404, "Not found: the page is /jobs/<job id>/report\n");
                    return;
                }
                if (tokensRequired) {
                    text(exchange, 403, "This server requires API tokens, which this port does not check: download the report "
                            + "through the API (condense download JOB_ID -o OUT --report R.json) or use condense compress --html\n");
                    return;
                }
                Optional<Map<String, Object>> report = reports.apply(parts[2]);
                if (report.isEmpty()) {
                    text(exchange, 404, "No completed job " + parts[2] + " with a report on this server\n");
                    return;
                }
                byte[] body = ReportPage.render(report.get()).getBytes(StandardCharsets.UTF_8);
                exchange.getResponseHeaders().set("Content-Type", "text/html; charset=utf-8");
                exchange.sendResponseHeaders(200, body.length);
                try (OutputStream out = exchange.getResponseBody()) {
                    out.write(body);
                }
            }
        });
    }

    private static void text(HttpExchange exchange, int status, String message) throws IOException {
        byte[] body = message.getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().set("Content-Type", "text/plain; charset=utf-8");
        exchange.sendResponseHeaders(status, body.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(body);
        }
    }

    public int port() {
        return server.getAddress().getPort();
    }

    private static void respond(HttpExchange exchange, PrometheusMeterRegistry registry) throws IOException {
        try (exchange) {
            if (!"GET".equals(exchange.getRequestMethod())) {
                exchange.sendResponseHeaders(405, -1);
                return;
            }
            byte[] body = registry.scrape().getBytes(StandardCharsets.UTF_8);
            exchange.getResponseHeaders().set("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
            exchange.sendResponseHeaders(200, body.length);
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(body);
            }
        }
    }

    @Override
    public void close() {
        server.stop(0);
    }
}
