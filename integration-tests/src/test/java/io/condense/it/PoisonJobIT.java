package io.condense.it;

import static io.condense.it.Jobs.step;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.condense.proto.v1.Job;
import io.condense.proto.v1.JobError;
import io.condense.proto.v1.JobState;
import io.condense.proto.v1.SubmitRequest;
import io.condense.server.cli.CondenseClient;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A model of a couple of hundred bytes that declares an enormous input fails its own job with a typed error, and the
 * technique keeps serving everyone else. Before, the evaluation ran the heap out (the OutOfMemoryError ended the
 * prune worker threads, the job stayed RUNNING and every later prune job QUEUED) or overflowed an int
 * (INTERNAL_ERROR blamed on the last step).
 */
class PoisonJobIT {
    private static CondenseClient client;

    @TempDir
    static Path folder;

    @BeforeAll
    static void start() {
        client = new CondenseClient(TestPlatform.get().grpcTarget());
    }

    @AfterAll
    static void stop() {
        client.close();
    }

    private static String upload(byte[] model) throws Exception {
        Path file = Files.createTempFile(folder, "model-", ".onnx");
        Files.write(file, model);
        return client.upload(file).getBlobId();
    }

    private static Job awaitEnd(String jobId) {
        await().atMost(Duration.ofSeconds(180)).pollInterval(Duration.ofMillis(200))
                .until(() -> isTerminal(client.job(jobId).getState()));
        return client.job(jobId);
    }

    private static boolean isTerminal(JobState state) {
        return state == JobState.JOB_STATE_COMPLETED || state == JobState.JOB_STATE_FAILED || state == JobState.JOB_STATE_CANCELLED;
    }

    @Test
    void aDeclaredInputLargerThanTheHeapFailsItsJobAndPruneKeepsWorking() throws Exception {
        byte[] poison = TinyModels.matMul(1, 100_000_000, 16);
        assertThat(poison.length).isLessThan(300);
        String poisonJob = client.submit(SubmitRequest.newBuilder().setModelId(upload(poison))
                .addSteps(step("prune", Map.of("sparsity", "0.5", "min_elements", "0"))).build()).getJobId();
        Job failed = awaitEnd(poisonJob);
        assertThat(failed.getState()).isEqualTo(JobState.JOB_STATE_FAILED);
        JobError error = failed.getError();
        assertThat(error.getCode()).isEqualTo("RESOURCE_EXHAUSTED");
        assertThat(error.getStep()).as("not a step: the evaluation after the last one").isZero();
        assertThat(error.getTechnique()).isEqualTo("evaluation");
        assertThat(error.getMessage()).contains("'x' declares the shape [1, 100000000, 16]").contains("skip_evaluation");

        // the prune workers survived: the next prune jobs run
        String model = client.upload(TestEnvironment.mnist8()).getBlobId();
        for (int i = 0; i < 3; i++) {
            String next = client.submit(SubmitRequest.newBuilder().setModelId(model).addSteps(step("prune", Map.of("sparsity", "0.5", "min_elements", "0")))
                    .setSkipEvaluation(true).build()).getJobId();
            assertThat(awaitEnd(next).getState()).isEqualTo(JobState.JOB_STATE_COMPLETED);
        }
        HealthCheckResponse health = HealthGrpc.newBlockingStub(client.channel()).check(HealthCheckRequest.newBuilder().setService("").build());
        assertThat(health.getStatus()).isEqualTo(HealthCheckResponse.ServingStatus.SERVING);
    }

    @Test
    void aDeclaredInputOverflowingAnIntIsBlamedOnTheEvaluationNotOnAStep() throws Exception {
        String jobId = client.submit(SubmitRequest.newBuilder().setModelId(upload(TinyModels.matMul(100_000, 100_000, 16)))
                .addSteps(step("prune", Map.of("sparsity", "0.5", "min_elements", "0"))).build()).getJobId();
        Job failed = awaitEnd(jobId);
        assertThat(failed.getState()).isEqualTo(JobState.JOB_STATE_FAILED);
        assertThat(failed.getError().getCode()).isEqualTo("RESOURCE_EXHAUSTED");
        assertThat(failed.getError().getTechnique()).isEqualTo("evaluation");
        assertThat(failed.getError().getMessage()).contains("[100000, 100000, 16] (160000000000 values)")
                .contains("more than one array can hold").doesNotContain("ArithmeticException");
    }

    @Test
    void thePoisonModelWithoutEvaluationCompletes() throws Exception {
        String jobId = client.submit(SubmitRequest.newBuilder().setModelId(upload(TinyModels.matMul(1, 100_000_000, 16)))
                .addSteps(step("prune", Map.of("sparsity", "0.5", "min_elements", "0"))).setSkipEvaluation(true).build()).getJobId();
        assertThat(awaitEnd(jobId).getState()).isEqualTo(JobState.JOB_STATE_COMPLETED);
    }
}
