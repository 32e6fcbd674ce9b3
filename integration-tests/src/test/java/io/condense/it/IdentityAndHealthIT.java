package io.condense.it;

import static io.condense.it.Jobs.step;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.condense.proto.v1.JobState;
import io.condense.proto.v1.SubmitRequest;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.server.bus.EmbeddedKafka;
import io.condense.server.cli.CondenseClient;
import io.condense.server.platform.CondensePlatform;
import io.condense.server.platform.PlatformConfig;
import io.condense.server.platform.Role;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.health.v1.HealthGrpc;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Replicas as a deployment runs them (one broker, one shared data folder, no --instance-id): each process names
 * itself uniquely and none fences another; an id given twice is refused by the second process; and health says
 * NOT_SERVING when the process cannot do its work. Before, the id came from DATA/instance-id, so replicas on one
 * volume shared it, fenced each other's producers and consumers, and kept answering SERVING.
 */
class IdentityAndHealthIT {
    private static final long MAX_BLOB_BYTES = 64L * 1024 * 1024;

    private final Deque<AutoCloseable> started = new ArrayDeque<>();

    @AfterEach
    void stopEverything() {
        while (!started.isEmpty()) {
            try {
                started.pop().close();
            } catch (Exception e) {
                System.err.println("[IdentityAndHealthIT] error while stopping: " + e);
            }
        }
    }

    private <T extends AutoCloseable> T keep(T resource) {
        started.push(resource);
        return resource;
    }

    private static PlatformConfig config(String bootstrap, Path data, Path plugins, Role role, String instanceId) {
        return new PlatformConfig("127.0.0.1", 0, -1, Optional.of(bootstrap), data, plugins, role, Optional.ofNullable(instanceId),
                MAX_BLOB_BYTES, 2, 1);
    }

    private static ServingStatus health(CondenseClient client) {
        return HealthGrpc.newBlockingStub(client.channel()).withDeadlineAfter(10, TimeUnit.SECONDS)
                .check(HealthCheckRequest.newBuilder().setService("").build()).getStatus();
    }

    private static String runJob(CondenseClient client, String model) {
        String jobId = client.submit(SubmitRequest.newBuilder().setModelId(model).addSteps(step("quantize", Map.of("bits", "8")))
                .setSkipEvaluation(true).build()).getJobId();
        await().atMost(Duration.ofSeconds(120)).until(() -> client.job(jobId).getState() == JobState.JOB_STATE_COMPLETED);
        return jobId;
    }

    @Test
    void replicasWithoutAnIdOnOneDataFolderDoNotFenceEachOther(@TempDir Path temp) throws Exception {
        EmbeddedKafka kafka = keep(EmbeddedKafka.start(temp.resolve("kafka")));
        Path data = Files.createDirectories(temp.resolve("data"));
        Path plugins = TestPlatform.quantizeAndSlowPlugins(temp.resolve("plugins"));
        // what killed processes left: a dead instance's step folder, and a step folder of the older flat layout
        Path dead = Files.createDirectories(data.resolve("scratch/oldhost-0badc0de/job-step1-7"));
        Files.write(dead.resolve("calibration.npy"), new byte[1024]);
        Path flat = Files.createDirectories(data.resolve("scratch/6f1c2e1a-3c1b-4a57-9f0e-1d2c3b4a5f6e-step2-42"));
        Files.write(flat.resolve("evaluation.npy"), new byte[1024]);
        CondensePlatform first = keep(CondensePlatform.start(config(kafka.bootstrapServers(), data, plugins, Role.ALL, null)));
        CondensePlatform second = keep(CondensePlatform.start(config(kafka.bootstrapServers(), data, plugins, Role.ALL, null)));
        assertThat(first.instanceId()).isNotEqualTo(second.instanceId());
        assertThat(data.resolve("scratch/oldhost-0badc0de")).as("a dead instance's scratch files are removed").doesNotExist();
        assertThat(flat).doesNotExist();
        assertThat(data.resolve("scratch").resolve(first.instanceId())).as("a live instance's folder is left alone").isDirectory();
        assertThat(data.resolve("scratch").resolve(second.instanceId())).isDirectory();
        String host = Optional.ofNullable(System.getenv("HOSTNAME")).filter(name -> !name.isBlank())
                .orElse(java.net.InetAddress.getLocalHost().getHostName()).toLowerCase(java.util.Locale.ROOT);
        assertThat(first.instanceId()).matches(".+-[0-9a-f]{8}").startsWith(host.substring(0, Math.min(host.length(), 10)));
        assertThat(Files.exists(data.resolve("instance-id"))).as("nothing taken from the shared folder").isFalse();

        CondenseClient clientA = keep(new CondenseClient(first.grpcTarget()));
        CondenseClient clientB = keep(new CondenseClient(second.grpcTarget()));
        String model = clientA.upload(TestEnvironment.mnist8()).getBlobId();
        for (int i = 0; i < 3; i++) {
            runJob(clientA, model);
            runJob(clientB, model);
        }
        assertThat(health(clientA)).isEqualTo(ServingStatus.SERVING);
        assertThat(health(clientB)).isEqualTo(ServingStatus.SERVING);
        assertThat(first.problems()).isEmpty();
        assertThat(second.problems()).isEmpty();
        assertThat(first.fatalProblem()).isNotDone();
        assertThat(second.fatalProblem()).isNotDone();

        // the cluster's job gauges come from one instance only, so a sum over instances counts each job once
        await().atMost(Duration.ofSeconds(60)).until(() -> (first.registry().find("condense.jobs.in.flight").gauge() == null)
                != (second.registry().find("condense.jobs.in.flight").gauge() == null));
        CondensePlatform reporting = first.registry().find("condense.jobs.in.flight").gauge() != null ? first : second;
        assertThat(reporting.registry().get("condense.jobs.in.flight").gauge().value()).isZero();
        assertThat(reporting.registry().get("condense.jobs.queued").tag("technique", "quantize").gauge().value()).isZero();
        // every job's whole duration is recorded once, by the worker that ended it
        long ended = 0;
        for (CondensePlatform platform : java.util.List.of(first, second)) {
            io.micrometer.core.instrument.Timer timer = platform.registry().find("condense.job.duration").tag("outcome", "completed").timer();
            ended += timer == null ? 0 : timer.count();
        }
        assertThat(ended).isEqualTo(6);
    }

    @Test
    void aSecondProcessWithTheSameExplicitIdRefusesToStart(@TempDir Path temp) throws Exception {
        EmbeddedKafka kafka = keep(EmbeddedKafka.start(temp.resolve("kafka")));
        Path data = Files.createDirectories(temp.resolve("data"));
        Path plugins = TestPlatform.quantizeAndSlowPlugins(temp.resolve("plugins"));
        CondensePlatform first = keep(CondensePlatform.start(config(kafka.bootstrapServers(), data, plugins, Role.ALL, "twin")));
        assertThat(first.instanceId()).isEqualTo("twin");

        assertThatThrownBy(() -> keep(CondensePlatform.start(config(kafka.bootstrapServers(), data, plugins, Role.API, "twin"))))
                .isInstanceOfSatisfying(CondenseException.class, e -> {
                    assertThat(e.code()).isEqualTo(ErrorCode.INVALID_PARAMETER);
                    assertThat(e.getMessage()).contains("another Condense process is running with the instance id 'twin'")
                            .contains("--instance-id");
                });

        // the first one was not disturbed
        CondenseClient client = keep(new CondenseClient(first.grpcTarget()));
        runJob(client, client.upload(TestEnvironment.mnist8()).getBlobId());
        assertThat(health(client)).isEqualTo(ServingStatus.SERVING);
        assertThat(first.fatalProblem()).isNotDone();
    }

    @Test
    void fencedProducersTurnHealthNotServingForGoodAndSayWhy(@TempDir Path temp) throws Exception {
        EmbeddedKafka kafka = keep(EmbeddedKafka.start(temp.resolve("kafka")));
        Path data = Files.createDirectories(temp.resolve("data"));
        Path plugins = TestPlatform.quantizeAndSlowPlugins(temp.resolve("plugins"));
        CondensePlatform platform = keep(CondensePlatform.start(config(kafka.bootstrapServers(), data, plugins, Role.ALL, "fence-me")));
        CondenseClient client = keep(new CondenseClient(platform.grpcTarget()));
        String model = client.upload(TestEnvironment.mnist8()).getBlobId();
        assertThat(health(client)).isEqualTo(ServingStatus.SERVING);

        // another producer takes the transactional id of the slow step consumer: its next commit is refused
        fence(kafka.bootstrapServers(), "condense-worker-slow-fence-me-1");
        client.submit(SubmitRequest.newBuilder().setModelId(model).addSteps(step("slow", Map.of("seconds", "0"))).build());
        String reason = platform.fatalProblem().get(120, TimeUnit.SECONDS);
        assertThat(reason).contains("the step consumer of 'slow' stopped").contains("fenced");
        await().atMost(Duration.ofSeconds(30)).until(() -> health(client) == ServingStatus.NOT_SERVING);

        // and the API's producer: Submit is refused as UNAVAILABLE, and the health check keeps saying why
        fence(kafka.bootstrapServers(), "condense-api-fence-me");
        assertThatThrownBy(() -> client.submit(SubmitRequest.newBuilder().setModelId(model).addSteps(step("slow")).build()))
                .isInstanceOfSatisfying(StatusRuntimeException.class,
                        e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE));
        await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> assertThat(platform.problems())
                .anySatisfy(problem -> assertThat(problem).contains("the API's Kafka producer was fenced")));
        assertThat(health(client)).isEqualTo(ServingStatus.NOT_SERVING);
    }

    @Test
    void anUnreachableBrokerTurnsHealthNotServing(@TempDir Path temp) throws Exception {
        EmbeddedKafka kafka = EmbeddedKafka.start(temp.resolve("kafka"));
        Path data = Files.createDirectories(temp.resolve("data"));
        Path plugins = TestPlatform.quantizeAndSlowPlugins(temp.resolve("plugins"));
        CondensePlatform platform = keep(CondensePlatform.start(new PlatformConfig("127.0.0.1", 0, 0, Optional.of(kafka.bootstrapServers()),
                data, plugins, Role.API, Optional.empty(), MAX_BLOB_BYTES, 2, 1)));
        CondenseClient client = keep(new CondenseClient(platform.grpcTarget()));
        assertThat(health(client)).isEqualTo(ServingStatus.SERVING);
        // the same over HTTP beside /metrics, for probes of processes that serve no gRPC (workers)
        java.net.http.HttpClient http = java.net.http.HttpClient.newHttpClient();
        java.net.URI healthUri = java.net.URI.create("http://127.0.0.1:" + platform.metricsPort().orElseThrow() + "/health");
        await().atMost(Duration.ofSeconds(30)).until(() -> http.send(java.net.http.HttpRequest.newBuilder(healthUri).build(),
                java.net.http.HttpResponse.BodyHandlers.ofString()).statusCode() == 200);
        kafka.close();
        await().atMost(Duration.ofSeconds(60)).until(() -> health(client) == ServingStatus.NOT_SERVING);
        assertThat(platform.problems()).anySatisfy(problem -> assertThat(problem).contains("cannot be reached"));
        java.net.http.HttpResponse<String> notServing = http.send(java.net.http.HttpRequest.newBuilder(healthUri).build(),
                java.net.http.HttpResponse.BodyHandlers.ofString());
        assertThat(notServing.statusCode()).isEqualTo(503);
        assertThat(notServing.body()).startsWith("NOT_SERVING\n").contains("cannot be reached");
        assertThat(platform.fatalProblem()).as("Kafka may come back: not a reason to exit").isNotDone();
    }

    /** What a second process with the same transactional id does: it takes the id over, and the first producer is fenced. */
    private static void fence(String bootstrap, String transactionalId) {
        Properties properties = new Properties();
        properties.put("bootstrap.servers", bootstrap);
        properties.put("transactional.id", transactionalId);
        properties.put("key.serializer", StringSerializer.class.getName());
        properties.put("value.serializer", ByteArraySerializer.class.getName());
        try (KafkaProducer<String, byte[]> usurper = new KafkaProducer<>(properties)) {
            usurper.initTransactions();
        }
    }
}
