package io.condense.it;

import static io.condense.it.Jobs.step;
import static org.assertj.core.api.Assertions.assertThat;

import io.condense.proto.v1.Job;
import io.condense.proto.v1.JobState;
import io.condense.proto.v1.SubmitRequest;
import io.condense.proto.v1.events.BusEvent;
import io.condense.proto.v1.events.JobSpec;
import io.condense.proto.v1.events.JobSubmitted;
import io.condense.server.blob.BlobCollector;
import io.condense.server.blob.BlobId;
import io.condense.server.blob.BlobReferences;
import io.condense.server.blob.BlobStore;
import io.condense.server.blob.S3Location;
import io.condense.server.blob.StoredBlob;
import io.condense.server.cli.CondenseClient;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Clock;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.gaul.s3proxy.S3Proxy;
import org.gaul.s3proxy.auth.AuthenticationType;
import org.gaul.s3proxy.nio2blob.TransientNio2BlobStore;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code --blob-store s3://bucket/prefix} against a real S3 server in this process (S3Proxy on 127.0.0.1, in memory):
 * an API process and a worker process on different data folders, each given only the bucket, the endpoint and the
 * standard AWS credential variables, run a job end to end; the blobs are in the bucket, none in either data folder.
 */
class S3BlobStoreIT {
    private static final String ACCESS_KEY = "condense-test";
    private static final String SECRET_KEY = "condense-test-secret";
    private static final String BUCKET = "condense-it";

    @Test
    void anApiAndAWorkerOnDifferentFoldersShareBlobsThroughS3(@TempDir Path temp) throws Exception {
        TransientNio2BlobStore memory = new TransientNio2BlobStore();
        memory.createContainer(BUCKET);
        S3Proxy s3 = S3Proxy.builder().blobStore(memory).endpoint(URI.create("http://127.0.0.1:0"))
                .awsAuthentication(AuthenticationType.AWS_V2_OR_V4, ACCESS_KEY, SECRET_KEY).build();
        s3.start();
        Path logs = Files.createDirectories(Path.of("target", "s3-logs").toAbsolutePath());
        Path plugins = TestPlatform.quantizeAndSlowPlugins(temp.resolve("plugins"));
        Map<String, String> aws = Map.of("AWS_ACCESS_KEY_ID", ACCESS_KEY, "AWS_SECRET_ACCESS_KEY", SECRET_KEY);
        List<String> store = List.of("--blob-store", "s3://" + BUCKET + "/team", "--s3-endpoint", "http://127.0.0.1:" + awaitPort(s3));
        Path apiData = temp.resolve("api-data");
        Path workerData = temp.resolve("worker-data");
        try (ServerProcess api = ServerProcess.start(apiData, plugins, logs.resolve("api.log"), ServerProcess.SMALL_JVM,
                concat(store, List.of("--role", "api")), aws);
                ServerProcess worker = ServerProcess.start(workerData, plugins, logs.resolve("worker.log"), ServerProcess.SMALL_JVM,
                        concat(store, List.of("--role", "worker", "--kafka-bootstrap", api.kafkaBootstrap())), aws);
                CondenseClient client = new CondenseClient(api.grpcTarget())) {
            String model = client.upload(TestEnvironment.mnist8()).getBlobId();
            String jobId = client.submit(SubmitRequest.newBuilder().setModelId(model).addSteps(step("quantize", Map.of("bits", "8")))
                    .setSkipEvaluation(true).build()).getJobId();
            Job job = awaitEnd(client, jobId);
            assertThat(job.getState()).as("job %s: %s", jobId, job.getError()).isEqualTo(JobState.JOB_STATE_COMPLETED);

            Path result = temp.resolve("result.onnx");
            client.downloadResult(jobId, result);
            assertThat(HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(result))))
                    .isEqualTo(job.getResultModelId());
            assertThat(Files.size(result)).as("int8 weights").isLessThan(Files.size(TestEnvironment.mnist8()));
            for (String blob : List.of(model, job.getResultModelId(), job.getReportId())) {
                assertThat(memory.blobExists(BUCKET, "team/blobs/" + blob)).as("blob %s in the bucket", blob).isTrue();
            }
            assertThat(localBlobs(apiData)).as("blobs in the API's data folder").isEmpty();
            assertThat(localBlobs(workerData)).as("blobs in the worker's data folder").isEmpty();
        } finally {
            s3.stop();
        }
    }

    /**
     * The S3 backend's bookkeeping, in this process: a tenant's stored bytes count its blobs (the size is in its hold's
     * key), and the garbage collection removes an unused blob with every hold on it, so the stored bytes go down.
     */
    @Test
    void storedBytesAndGarbageCollectionInTheBucket(@TempDir Path temp) throws Exception {
        TransientNio2BlobStore memory = new TransientNio2BlobStore();
        memory.createContainer(BUCKET);
        S3Proxy s3 = S3Proxy.builder().blobStore(memory).endpoint(URI.create("http://127.0.0.1:0"))
                .awsAuthentication(AuthenticationType.AWS_V2_OR_V4, ACCESS_KEY, SECRET_KEY).build();
        s3.start();
        // the SDK's credential chain reads these system properties before the environment
        System.setProperty("aws.accessKeyId", ACCESS_KEY);
        System.setProperty("aws.secretAccessKey", SECRET_KEY);
        S3Location location = S3Location.parse("s3://" + BUCKET + "/gc", java.util.Optional.of("http://127.0.0.1:" + awaitPort(s3)),
                java.util.Optional.empty());
        try (BlobStore blobs = BlobStore.s3(location, temp.resolve("blobs"), 1 << 20)) {
            BlobId used = blobs.put("held by a queued job".getBytes(java.nio.charset.StandardCharsets.UTF_8));
            BlobId unused = blobs.put("uploaded and never used".getBytes(java.nio.charset.StandardCharsets.UTF_8));
            blobs.grant("team-a", used);
            blobs.grant("team-a", unused);
            blobs.grant("team-b", unused);
            assertThat(blobs.owns("team-a", unused)).isTrue();
            assertThat(blobs.owns("team-c", unused)).isFalse();
            assertThat(blobs.storedBytes("team-a")).isEqualTo(blobs.size(used) + blobs.size(unused));
            assertThat(blobs.list()).extracting(StoredBlob::id).containsExactlyInAnyOrder(used, unused);
            assertThat(Files.readString(blobs.require(used))).as("a cached copy for readers of files").isEqualTo("held by a queued job");

            BlobReferences references = new BlobReferences();
            references.onEvent(BusEvent.newBuilder().setJobId("queued").setTimeMs(System.currentTimeMillis()).setJobSubmitted(
                    JobSubmitted.newBuilder().setSpec(JobSpec.newBuilder().setModelId(used.hex()).setTenant("team-a"))).build(), true);
            Duration retention = Duration.ofHours(1);
            Clock later = Clock.offset(Clock.systemUTC(), retention.plusMinutes(1));
            BlobCollector.Sweep sweep = new BlobCollector(blobs, references, retention, () -> true, later).sweep();
            assertThat(sweep.blobs()).isEqualTo(1);
            assertThat(blobs.contains(unused)).isFalse();
            assertThat(blobs.contains(used)).isTrue();
            assertThat(blobs.owns("team-b", unused)).isFalse();
            assertThat(blobs.storedBytes("team-a")).as("down by the removed blob").isEqualTo(blobs.size(used));
            assertThat(blobs.storedBytes("team-b")).isZero();
        } finally {
            System.clearProperty("aws.accessKeyId");
            System.clearProperty("aws.secretAccessKey");
            s3.stop();
        }
    }

    /** Complete blobs kept in a data folder ({@code blobs/<2 hex>/<id>}), as the local store keeps them. */
    private static List<Path> localBlobs(Path data) throws Exception {
        Path blobs = data.resolve("blobs");
        if (!Files.isDirectory(blobs)) {
            return List.of();
        }
        try (Stream<Path> files = Files.walk(blobs)) {
            return files.filter(file -> file.getFileName().toString().matches("[0-9a-f]{64}") && file.getParent().getParent().equals(blobs)).toList();
        }
    }

    private static Job awaitEnd(CondenseClient client, String jobId) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofMinutes(3).toNanos();
        while (true) {
            Job job = client.job(jobId);
            if (job.getState() == JobState.JOB_STATE_COMPLETED || job.getState() == JobState.JOB_STATE_FAILED
                    || job.getState() == JobState.JOB_STATE_CANCELLED || System.nanoTime() > deadline) {
                return job;
            }
            Thread.sleep(200);
        }
    }

    private static int awaitPort(S3Proxy s3) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (!"STARTED".equals(s3.getState()) && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        return s3.getPort();
    }

    private static List<String> concat(List<String> a, List<String> b) {
        return Stream.concat(a.stream(), b.stream()).toList();
    }
}
