package io.condense.it;

import static io.condense.it.Jobs.step;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import io.condense.proto.v1.CompressionServiceGrpc;
import io.condense.proto.v1.DownloadRequest;
import io.condense.proto.v1.Job;
import io.condense.proto.v1.JobError;
import io.condense.proto.v1.JobEvent;
import io.condense.proto.v1.JobState;
import io.condense.proto.v1.SubmitRequest;
import io.condense.proto.v1.UploadChunk;
import io.condense.proto.v1.UploadResult;
import io.condense.server.cli.CondenseClient;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Wrong requests, broken models and broken plugins, over gRPC: each a clear answer, and the server keeps serving. */
class BadInputIT {
    private static CondenseClient client;
    private static String model;

    @BeforeAll
    static void start() throws Exception {
        client = new CondenseClient(TestPlatform.get().grpcTarget());
        model = client.upload(TestEnvironment.mnist8()).getBlobId();
    }

    @AfterAll
    static void stop() {
        client.close();
    }

    @Test
    void anUnknownTechniqueIsRefusedNamingTheKnownOnes() {
        SubmitRequest request = SubmitRequest.newBuilder().setModelId(model).addSteps(step("prune")).addSteps(step("squash")).build();
        assertThatThrownBy(() -> client.submit(request))
                .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
                    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
                    assertThat(e.getStatus().getDescription())
                            .contains("Unknown technique 'squash' in step 2")
                            .contains("known techniques: ")
                            .contains("prune").contains("quantize").contains("slow");
                });
    }

    @Test
    void everyBadParameterOfEveryStepIsNamedInOneAnswer() {
        SubmitRequest request = SubmitRequest.newBuilder().setModelId(model)
                .addSteps(step("prune", Map.of("sparsity", "1.5", "scope", "everywhere")))
                .addSteps(step("quantize", Map.of("bits", "eight", "colour", "red")))
                .build();
        assertThatThrownBy(() -> client.submit(request))
                .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
                    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
                    assertThat(e.getStatus().getDescription())
                            .startsWith("INVALID_PARAMETER: ")
                            .contains("Invalid value 1.5 for parameter 'sparsity' of step 1 (prune): must be a number in [0, 1)")
                            .contains("Invalid value everywhere for parameter 'scope' of step 1 (prune)")
                            .contains("Invalid value eight for parameter 'bits' of step 2 (quantize)")
                            .contains("parameter 'colour' of step 2 (quantize)")
                            .doesNotContain("\tat ");
                });
    }

    @Test
    void garbageModelBytesFailTheJobWithAClearError() {
        byte[] garbage = new byte[4096];
        new Random(7).nextBytes(garbage);
        String garbageId = client.upload(garbage).getBlobId();
        String jobId = client.submit(SubmitRequest.newBuilder().setModelId(garbageId).addSteps(step("prune")).build()).getJobId();
        List<JobEvent> events = Jobs.events(client, jobId);
        assertThat(Jobs.kinds(events)).endsWith("FAILED");
        Job job = client.job(jobId);
        assertThat(job.getState()).isEqualTo(JobState.JOB_STATE_FAILED);
        JobError error = job.getError();
        assertThat(error.getStep()).isEqualTo(1);
        assertThat(error.getTechnique()).isEqualTo("prune");
        // random bytes read as a protobuf that ends early: the SDK calls that a truncated model
        assertThat(error.getCode()).isIn("INVALID_MODEL", "TRUNCATED_MODEL");
        assertThat(error.getCategory()).isEqualTo("USER");
        assertThat(error.getMessage()).contains("model").doesNotContain("\tat ");

        // bytes that parse as a protobuf but hold no graph
        String empty = client.upload("not an onnx model at all".getBytes(java.nio.charset.StandardCharsets.UTF_8)).getBlobId();
        String second = client.submit(SubmitRequest.newBuilder().setModelId(empty).addSteps(step("quantize")).build()).getJobId();
        Jobs.events(client, second);
        JobError secondError = client.job(second).getError();
        assertThat(secondError.getCode()).isIn("INVALID_MODEL", "TRUNCATED_MODEL");
        System.out.println("garbage model errors: " + error.getCode() + ": " + error.getMessage() + " | " + secondError.getCode() + ": "
                + secondError.getMessage());

        assertThatThrownBy(() -> client.downloadResult(jobId, java.nio.file.Files.createTempFile("never", ".onnx")))
                .isInstanceOfSatisfying(StatusRuntimeException.class,
                        e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION));
    }

    @Test
    void aGraphOnnxsCheckerRefusesIsNamedAsSuchBeforeAnyTechniqueRuns() throws Exception {
        // y = MatMul(x, w) where the MatMul reads "w_renamed", which nothing provides (an exporter's or an editor's slip)
        ai.onnx.proto.OnnxMl.ModelProto valid = ai.onnx.proto.OnnxMl.ModelProto.parseFrom(TinyModels.matMul(1, 16));
        ai.onnx.proto.OnnxMl.ModelProto broken = valid.toBuilder().setGraph(valid.getGraph().toBuilder()
                .setNode(0, valid.getGraph().getNode(0).toBuilder().setInput(1, "w_renamed"))).build();
        String modelId = client.upload(broken.toByteArray()).getBlobId();
        String jobId = client.submit(SubmitRequest.newBuilder().setModelId(modelId).addSteps(step("quantize", Map.of("bits", "8"))).build())
                .getJobId();
        Jobs.events(client, jobId);
        JobError error = client.job(jobId).getError();
        assertThat(error.getCode()).isEqualTo("INVALID_MODEL");
        assertThat(error.getStep()).isEqualTo(1);
        assertThat(error.getMessage()).contains("is not a valid ONNX graph").contains("reads 'w_renamed'")
                .contains("onnx.checker.check_model").doesNotContain("\tat ");
    }

    @Test
    void anOversizedMessageIsRefusedAsResourceExhausted() throws Exception {
        CompletableFuture<UploadResult> answer = new CompletableFuture<>();
        StreamObserver<UploadChunk> upload = CompressionServiceGrpc.newStub(client.channel()).uploadModel(new StreamObserver<>() {
            @Override
            public void onNext(UploadResult value) {
                answer.complete(value);
            }

            @Override
            public void onError(Throwable t) {
                answer.completeExceptionally(t);
            }

            @Override
            public void onCompleted() {
            }
        });
        upload.onNext(UploadChunk.newBuilder().setData(ByteString.copyFrom(new byte[3 * 1024 * 1024])).build());
        upload.onCompleted();
        assertThatThrownBy(() -> answer.get(60, TimeUnit.SECONDS))
                .isInstanceOf(ExecutionException.class)
                .cause()
                .isInstanceOfSatisfying(StatusRuntimeException.class,
                        e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED));

        SubmitRequest huge = SubmitRequest.newBuilder().setModelId(model).addSteps(step("prune"))
                .setClientRequestId("x".repeat(2 * 1024 * 1024)).build();
        assertThatThrownBy(() -> client.submit(huge)).isInstanceOfSatisfying(StatusRuntimeException.class,
                e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED));
    }

    @Test
    void aJobCanBeCancelledWhileItsStepRuns() {
        String jobId = client.submit(SubmitRequest.newBuilder().setModelId(model)
                .addSteps(step("slow", Map.of("seconds", "120"))).addSteps(step("quantize")).build()).getJobId();
        List<JobEvent> events = new CopyOnWriteArrayList<>();
        Thread watcher = new Thread(() -> client.watch(jobId, events::add));
        watcher.start();
        await().atMost(Duration.ofSeconds(60)).until(() -> events.stream().anyMatch(JobEvent::hasProgress));

        Job answer = client.cancel(jobId);
        assertThat(answer.getJobId()).isEqualTo(jobId);

        await().atMost(Duration.ofSeconds(60)).until(() -> client.job(jobId).getState() == JobState.JOB_STATE_CANCELLED);
        await().atMost(Duration.ofSeconds(30)).until(() -> !watcher.isAlive());
        assertThat(Jobs.kinds(events)).startsWith("ACCEPTED", "STEP_STARTED 1").endsWith("CANCELLED").doesNotContain("STEP_STARTED 2");
        assertThat(events.get(events.size() - 1).getCancelled().getStep()).isEqualTo(1);
    }

    @Test
    void aBrokenPluginFailsTheJobWithStepCodeAndMessageAndTheServerKeepsServing() {
        String jobId = client.submit(SubmitRequest.newBuilder().setModelId(model)
                .addSteps(step("prune", Map.of("sparsity", "0.3"))).addSteps(step("explode")).build()).getJobId();
        List<JobEvent> events = Jobs.events(client, jobId);
        assertThat(Jobs.kinds(events)).isIn(Jobs.TWO_STEPS_FAILED_AT_2);
        JobError error = client.job(jobId).getError();
        assertThat(error.getStep()).isEqualTo(2);
        assertThat(error.getTechnique()).isEqualTo("explode");
        assertThat(error.getCode()).isEqualTo("PLUGIN_FAILURE");
        assertThat(error.getCategory()).isEqualTo("INTERNAL");
        assertThat(error.getMessage()).contains("explode").contains("boom: this plugin is broken on purpose").doesNotContain("\tat ");

        String next = client.submit(SubmitRequest.newBuilder().setModelId(model).addSteps(step("quantize")).build()).getJobId();
        Jobs.events(client, next);
        assertThat(client.job(next).getState()).isEqualTo(JobState.JOB_STATE_COMPLETED);
    }

    @Test
    void trainingDataIdsAreCheckedOnSubmit() throws Exception {
        String images = client.upload(TestEnvironment.digitImages()).getBlobId();
        String labels = client.upload(TestEnvironment.digitLabels()).getBlobId();
        String unknown = "c".repeat(64);

        assertThatThrownBy(() -> client.submit(SubmitRequest.newBuilder().setModelId(model).addSteps(step("trainprobe"))
                .setTrainDataId(unknown).setTrainLabelsId(labels).build()))
                .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
                    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.NOT_FOUND);
                    assertThat(e.getStatus().getDescription()).contains("train_data_id " + unknown + " is not stored").contains("UploadModel");
                });
        assertThatThrownBy(() -> client.submit(SubmitRequest.newBuilder().setModelId(model).addSteps(step("trainprobe"))
                .setTrainDataId(images).setTrainLabelsId(unknown).build()))
                .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
                    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.NOT_FOUND);
                    assertThat(e.getStatus().getDescription()).contains("train_labels_id " + unknown + " is not stored");
                });
        assertThatThrownBy(() -> client.submit(SubmitRequest.newBuilder().setModelId(model).addSteps(step("trainprobe"))
                .setTrainDataId("not-a-blob-id").setTrainLabelsId(labels).build()))
                .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
                    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.NOT_FOUND);
                    assertThat(e.getStatus().getDescription()).contains("train_data_id: 'not-a-blob-id' is not a blob id");
                });
        assertThatThrownBy(() -> client.submit(SubmitRequest.newBuilder().setModelId(model).addSteps(step("trainprobe"))
                .setTrainLabelsId(labels).build()))
                .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
                    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
                    assertThat(e.getStatus().getDescription()).startsWith("INVALID_DATA: ")
                            .contains("train_labels_id is set without train_data_id").contains("--train-data");
                });
        assertThatThrownBy(() -> client.submit(SubmitRequest.newBuilder().setModelId(model).addSteps(step("trainprobe"))
                .setTrainDataId(images).build()))
                .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
                    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
                    assertThat(e.getStatus().getDescription()).startsWith("DATA_REQUIRED: ")
                            .contains("train_data_id is set without train_labels_id").contains("training needs labels").contains("--train-labels");
                });
        // both stored: accepted
        String jobId = client.submit(SubmitRequest.newBuilder().setModelId(model).addSteps(step("trainprobe"))
                .setTrainDataId(images).setTrainLabelsId(labels).setSkipEvaluation(true).build()).getJobId();
        Jobs.events(client, jobId);
        assertThat(client.job(jobId).getState()).isEqualTo(JobState.JOB_STATE_COMPLETED);
    }

    @Test
    void unknownIdsAreNotFound() {
        assertThatThrownBy(() -> client.job("no-such-job")).isInstanceOfSatisfying(StatusRuntimeException.class,
                e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.NOT_FOUND));
        assertThatThrownBy(() -> client.submit(SubmitRequest.newBuilder().setModelId("0".repeat(64)).addSteps(step("prune")).build()))
                .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
                    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.NOT_FOUND);
                    assertThat(e.getStatus().getDescription()).contains("upload it first");
                });
        assertThatThrownBy(() -> CompressionServiceGrpc.newBlockingStub(client.channel())
                .download(DownloadRequest.newBuilder().setBlobId("not-hex").build()).hasNext())
                .isInstanceOfSatisfying(StatusRuntimeException.class,
                        e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.NOT_FOUND));
    }
}
