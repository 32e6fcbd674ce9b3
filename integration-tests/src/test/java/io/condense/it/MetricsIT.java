package io.condense.it;

import static io.condense.it.Jobs.step;
import static org.assertj.core.api.Assertions.assertThat;

import io.condense.proto.v1.JobState;
import io.condense.proto.v1.SubmitRequest;
import io.condense.server.cli.CondenseClient;
import io.condense.server.platform.CondensePlatform;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** /metrics in the Prometheus format, with the per-technique meters and their tags. */
class MetricsIT {

    @Test
    void scrapesPerTechniqueMetersWithTheirTags() throws Exception {
        CondensePlatform platform = TestPlatform.get();
        try (CondenseClient client = new CondenseClient(platform.grpcTarget())) {
            String model = client.upload(TestEnvironment.mnist8()).getBlobId();
            String jobId = client.submit(SubmitRequest.newBuilder().setModelId(model)
                    .addSteps(step("prune", Map.of("sparsity", "0.4"))).addSteps(step("slow", Map.of("seconds", "0.3"))).build()).getJobId();
            Jobs.events(client, jobId);
            assertThat(client.job(jobId).getState()).isEqualTo(JobState.JOB_STATE_COMPLETED);
            // the host swapped the thread's context class loader to the plugin's around the call
            assertThat(client.job(jobId).getStepResults(1).getReport().getFieldsOrThrow("context_class_loader_is_plugin").getBoolValue()).isTrue();
        }
        HttpResponse<String> response = HttpClient.newHttpClient().send(
                HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + platform.metricsPort().orElseThrow() + "/metrics")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(response.statusCode()).isEqualTo(200);
        String metrics = response.body();
        String prune = "outcome=\"success\",plugin_version=\"0.1.0-SNAPSHOT\",technique=\"prune\"";
        assertThat(metrics)
                .containsPattern("condense_step_duration_seconds_count\\{" + prune + "} [1-9]")
                .containsPattern("condense_steps_total\\{" + prune + "} [1-9]")
                .containsPattern("condense_step_bytes_in_bytes_count\\{" + prune + "} [1-9]")
                .containsPattern("condense_step_bytes_out_bytes_sum\\{" + prune + "} [1-9]")
                .containsPattern("condense_step_compression_ratio_count\\{" + prune + "} [1-9]")
                .containsPattern("condense_steps_total\\{outcome=\"success\",plugin_version=\"1.0.0\",technique=\"slow\"} [1-9]")
                // a plugin's own meter, pre-tagged by the host
                .containsPattern("test_slow_ticks_total\\{plugin_version=\"1.0.0\",technique=\"slow\"} [1-9]")
                .containsPattern("condense_jobs_total\\{outcome=\"completed\"} [1-9]")
                .contains("condense_jobs_in_flight ")
                .containsPattern("condense_grpc_server_calls_total\\{method=\"Submit\",service=\"condense.v1.CompressionService\",status=\"OK\"} [1-9]")
                .containsPattern("condense_grpc_server_call_duration_seconds_count\\{method=\"UploadModel\"")
                .contains("kafka_producer_")
                .contains("kafka_consumer_")
                .contains("jvm_memory_used_bytes");
        // no job ids in tags
        assertThat(metrics).doesNotContainPattern("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}");
    }
}
