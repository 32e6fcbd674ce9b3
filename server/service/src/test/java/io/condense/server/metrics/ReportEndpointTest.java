package io.condense.server.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class ReportEndpointTest {
    private static final Map<String, Object> REPORT = Map.of("original_bytes", 1000, "compressed_bytes", 250, "ratio", 4.0,
            "steps", List.of(Map.of("step", 1, "technique", "quantize", "bytes_out", 250, "report", Map.of())),
            "evaluation", Map.of("top1_agreement", 1.0, "sqnr_db", 40.0, "samples", 32, "data", "generated inputs"));

    @Test
    void servesACompletedJobsReportAsHtml() throws Exception {
        try (MetricsEndpoint endpoint = MetricsEndpoint.start("127.0.0.1", 0, new PrometheusMeterRegistry(PrometheusConfig.DEFAULT))) {
            endpoint.serveReports(id -> id.equals("job-1") ? Optional.of(REPORT) : Optional.empty(), false);
            HttpResponse<String> page = get(endpoint, "/jobs/job-1/report");
            assertThat(page.statusCode()).isEqualTo(200);
            assertThat(page.headers().firstValue("Content-Type")).hasValue("text/html; charset=utf-8");
            assertThat(page.body()).startsWith("<!DOCTYPE html>").contains("<svg id=\"size-breakdown\"", "4.00x smaller");
            assertThat(get(endpoint, "/jobs/unknown/report").statusCode()).isEqualTo(404);
            assertThat(get(endpoint, "/jobs/job-1").statusCode()).isEqualTo(404);
        }
    }

    @Test
    void refusesWhenTheApiRequiresTokens() throws Exception {
        try (MetricsEndpoint endpoint = MetricsEndpoint.start("127.0.0.1", 0, new PrometheusMeterRegistry(PrometheusConfig.DEFAULT))) {
            endpoint.serveReports(id -> Optional.of(REPORT), true);
            HttpResponse<String> page = get(endpoint, "/jobs/job-1/report");
            assertThat(page.statusCode()).isEqualTo(403);
            assertThat(page.body()).contains("tokens");
        }
    }

    private static HttpResponse<String> get(MetricsEndpoint endpoint, String path) throws Exception {
        return HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + endpoint.port() + path)).build(),
                HttpResponse.BodyHandlers.ofString());
    }
}
