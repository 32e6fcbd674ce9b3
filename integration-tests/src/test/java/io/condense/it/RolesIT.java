package io.condense.it;

import static io.condense.it.Jobs.step;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.condense.proto.v1.Job;
import io.condense.proto.v1.JobEvent;
import io.condense.proto.v1.JobState;
import io.condense.proto.v1.SubmitRequest;
import io.condense.proto.v1.SubmitResponse;
import io.condense.sdk.data.DataReaders;
import io.condense.sdk.data.Dataset;
import io.condense.sdk.eval.EvaluationRequest;
import io.condense.sdk.eval.EvaluationResult;
import io.condense.sdk.model.OnnxModel;
import io.condense.server.bus.EmbeddedKafka;
import io.condense.server.cli.CondenseClient;
import io.condense.server.platform.CondensePlatform;
import io.condense.server.platform.PlatformConfig;
import io.condense.server.platform.Role;
import io.condense.server.runtime.OnnxRuntimeEvaluator;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code --kafka-bootstrap} with separate roles: one Kafka broker standing in for an external cluster,
 * two API-only instances and two worker-only instances in this JVM (each a {@link CondensePlatform} with
 * its own instance id), all on one shared data folder. A job submitted through one API instance is
 * followed and downloaded through the other, which knows it only from the events topic; API instances
 * run no steps and worker instances serve no gRPC; a cancel asked through one API instance stops the step
 * on a worker.
 */
class RolesIT {
    private static final long MAX_BLOB_BYTES = 64L * 1024 * 1024;

    /** Everything this test started, stopped in reverse order. */
    private final Deque<AutoCloseable> started = new ArrayDeque<>();

    @AfterEach
    void stopEverything() {
        while (!started.isEmpty()) {
            try {
                started.pop().close();
            } catch (Exception e) {
                System.err.println("[RolesIT] error while stopping: " + e);
            }
        }
    }

    @Test
    void apiAndWorkerInstancesShareOneClusterAndOneDataFolder(@TempDir Path temp) throws Exception {
        Path data = Files.createDirectories(temp.resolve("data"));
        Path plugins = realPlugins(Files.createDirectories(temp.resolve("plugins")));
        EmbeddedKafka kafka = EmbeddedKafka.start(temp.resolve("external-kafka"));
        started.push(kafka);
        String bootstrap = kafka.bootstrapServers();

        CondensePlatform apiA = start(new PlatformConfig("127.0.0.1", 0, -1, Optional.of(bootstrap), data, plugins, Role.API,
                Optional.of("api-a"), MAX_BLOB_BYTES, 4, 1));
        CondensePlatform apiB = start(new PlatformConfig("127.0.0.1", 0, -1, Optional.of(bootstrap), data, plugins, Role.API,
                Optional.of("api-b"), MAX_BLOB_BYTES, 4, 1));
        assertThat(apiA.kafkaBootstrapServers()).isEqualTo(bootstrap);
        assertThat(apiA.grpcPort()).isPositive();
        assertThat(apiB.grpcPort()).isPositive().isNotEqualTo(apiA.grpcPort());
        assertThat(Files.exists(data.resolve("kafka"))).as("no embedded broker of their own").isFalse();
        CondenseClient clientA = client(apiA.grpcTarget());
        CondenseClient clientB = client(apiB.grpcTarget());

        // upload and submit through A while no worker runs: the job is accepted and stays queued
        byte[] modelBytes = Files.readAllBytes(TestEnvironment.mnist8());
        String modelId = clientA.upload(TestEnvironment.mnist8()).getBlobId();
        assertThat(modelId).isEqualTo(sha256(modelBytes));
        String jobId = clientA.submit(pruneThenQuantize(modelId)).getJobId();
        // B answers at once: an id its view does not know yet makes it read the events topic to its end first
        assertThat(clientB.job(jobId).getState()).isEqualTo(JobState.JOB_STATE_QUEUED);
        await().during(Duration.ofSeconds(3)).atMost(Duration.ofSeconds(10)).until(
                () -> clientA.job(jobId).getState() == JobState.JOB_STATE_QUEUED && clientB.job(jobId).getState() == JobState.JOB_STATE_QUEUED);
        assertThat(clientB.job(jobId).getStepResultsList()).isEmpty();
        assertThat(apiA.registry().find("condense.steps").counters()).as("API instance A ran no step").isEmpty();
        assertThat(apiB.registry().find("condense.steps").counters()).as("API instance B ran no step").isEmpty();

        // a worker-only instance, even when given a gRPC port, answers no gRPC there
        int workerPort = freePort();
        CondensePlatform worker1 = start(new PlatformConfig("127.0.0.1", workerPort, -1, Optional.of(bootstrap), data, plugins,
                Role.WORKER, Optional.of("worker-1"), MAX_BLOB_BYTES, 4, 1));
        assertThat(worker1.grpcPort()).isEqualTo(-1);
        try (CondenseClient toWorker = new CondenseClient("127.0.0.1:" + workerPort)) {
            assertThatThrownBy(toWorker::techniques).isInstanceOfSatisfying(StatusRuntimeException.class,
                    e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE));
        }

        // B follows the job, which it knows only from the events topic, to completion and downloads it
        List<JobEvent> events = Jobs.events(clientB, jobId);
        assertThat(Jobs.kinds(events)).isIn(Jobs.TWO_STEPS_COMPLETED);
        Job job = clientB.job(jobId);
        assertThat(job.getState()).isEqualTo(JobState.JOB_STATE_COMPLETED);
        assertThat(job.getStepResultsList()).extracting(result -> result.getTechnique()).containsExactly("prune", "quantize");
        assertThat(clientA.job(jobId).getResultModelId()).isEqualTo(job.getResultModelId());
        Path result = temp.resolve("result-via-b.onnx");
        clientB.downloadResult(jobId, result);
        byte[] resultBytes = Files.readAllBytes(result);
        assertThat(sha256(resultBytes)).isEqualTo(job.getResultModelId());
        assertThat(resultBytes.length).isLessThan(modelBytes.length);
        assertThat(worker1.registry().find("condense.steps").tag("outcome", "success").counters()).as("steps run by the worker").hasSize(2);
        assertThat(apiA.registry().find("condense.steps").counters()).isEmpty();
        assertThat(apiB.registry().find("condense.steps").counters()).isEmpty();

        // the result loads and runs in ONNX Runtime and agrees with the original on real digits
        OnnxRuntimeEvaluator evaluator = new OnnxRuntimeEvaluator();
        Dataset digits = DataReaders.dataset(TestEnvironment.digitImages(), TestEnvironment.digitLabels()).head(300);
        EvaluationResult measured = evaluator.compare(OnnxModel.fromBytes(modelBytes), OnnxModel.load(result), EvaluationRequest.of(digits, 300));
        assertThat(measured.samples()).isEqualTo(300);
        assertThat(measured.top1Agreement()).isGreaterThanOrEqualTo(0.9);

        // a second worker joins; the other way round (submit through B, follow and download through A) works too
        start(new PlatformConfig("127.0.0.1", 0, -1, Optional.of(bootstrap), data, plugins, Role.WORKER, Optional.of("worker-2"),
                MAX_BLOB_BYTES, 4, 1));
        SubmitRequest secondRequest = pruneThenQuantize(modelId).toBuilder().setSkipEvaluation(true).setClientRequestId("roles-it-second").build();
        String second = clientB.submit(secondRequest).getJobId();
        // WatchJob on A right after the Submit on B (this answered NOT_FOUND before A read the topic on an unknown id)
        assertThat(Jobs.kinds(Jobs.events(clientA, second))).isIn(Jobs.TWO_STEPS_COMPLETED);
        // A knows the job from the events topic, so a retry of B's Submit sent to A answers the same job
        SubmitResponse retried = clientA.submit(secondRequest);
        assertThat(retried.getJobId()).isEqualTo(second);
        assertThat(retried.getExisting()).isTrue();
        Path secondResult = temp.resolve("result-via-a.onnx");
        clientA.downloadResult(second, secondResult);
        assertThat(sha256(Files.readAllBytes(secondResult))).isEqualTo(clientB.job(second).getResultModelId());
        // prune and quantize are deterministic: the same input gives the same content-addressed result
        assertThat(clientA.job(second).getResultModelId()).isEqualTo(job.getResultModelId());

        // a cancel asked through B reaches the worker running the step (it hears of it on the events topic)
        String slow = clientA.submit(SubmitRequest.newBuilder().setModelId(modelId)
                .addSteps(step("slow", Map.of("seconds", "120"))).addSteps(step("quantize")).build()).getJobId();
        await().atMost(Duration.ofSeconds(60)).until(() -> clientB.job(slow).getState() == JobState.JOB_STATE_RUNNING);
        assertThat(clientB.cancel(slow).getJobId()).isEqualTo(slow);
        List<JobEvent> slowEvents = Jobs.events(clientA, slow);
        assertThat(Jobs.kinds(slowEvents)).startsWith("ACCEPTED", "STEP_STARTED 1").endsWith("CANCELLED").doesNotContain("STEP_STARTED 2");
        assertThat(clientB.job(slow).getState()).isEqualTo(JobState.JOB_STATE_CANCELLED);
    }

    private CondensePlatform start(PlatformConfig config) {
        CondensePlatform platform = CondensePlatform.start(config);
        started.push(platform);
        return platform;
    }

    private CondenseClient client(String target) {
        CondenseClient client = new CondenseClient(target);
        started.push(client);
        return client;
    }

    private static SubmitRequest pruneThenQuantize(String modelId) {
        return SubmitRequest.newBuilder().setModelId(modelId)
                .addSteps(step("prune", Map.of("sparsity", "0.5")))
                .addSteps(step("quantize", Map.of("bits", "8")))
                .build();
    }

    /** The real plugin archives and the test plugin {@code slow} (waits, checking for cancellation), one folder every instance loads. */
    private static Path realPlugins(Path folder) throws IOException {
        for (Path archive : TestEnvironment.realPluginArchives()) {
            Files.copy(archive, folder.resolve(archive.getFileName()), StandardCopyOption.REPLACE_EXISTING);
        }
        TestPlugins.build("slow", "slow", "1.0.0", ">=0.1.0", folder.resolve("slow-plugin-1.0.0.jar"));
        return folder;
    }

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket()) {
            socket.bind(new InetSocketAddress("127.0.0.1", 0));
            return socket.getLocalPort();
        }
    }

    private static String sha256(byte[] bytes) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    }
}
