package io.condense.it;

import static io.condense.it.Jobs.step;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import io.condense.proto.v1.Job;
import io.condense.proto.v1.JobEvent;
import io.condense.proto.v1.JobState;
import io.condense.proto.v1.ListTechniquesResponse;
import io.condense.proto.v1.SubmitRequest;
import io.condense.proto.v1.SubmitResponse;
import io.condense.proto.v1.TechniqueInfo;
import io.condense.proto.v1.UploadResult;
import io.condense.sdk.data.DataReaders;
import io.condense.sdk.data.Dataset;
import io.condense.sdk.data.NdArray;
import io.condense.sdk.data.Npy;
import io.condense.sdk.eval.EvaluationRequest;
import io.condense.sdk.eval.EvaluationResult;
import io.condense.sdk.eval.Evaluator;
import io.condense.sdk.model.OnnxModel;
import io.condense.server.cli.CondenseClient;
import io.condense.server.platform.CondensePlatform;
import io.condense.server.report.Structs;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.reflection.v1.ServerReflectionGrpc;
import io.grpc.reflection.v1.ServerReflectionRequest;
import io.grpc.reflection.v1.ServerReflectionResponse;
import io.grpc.stub.StreamObserver;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The whole path on a real model: gRPC upload, Kafka, the real plugin archives, evaluation, download. */
class EndToEndIT {
    private static CondensePlatform platform;
    private static CondenseClient client;

    @BeforeAll
    static void start() {
        platform = TestPlatform.get();
        client = new CondenseClient(platform.grpcTarget());
    }

    @AfterAll
    static void stop() {
        client.close();
    }

    @Test
    @SuppressWarnings("unchecked")
    void prunesThenQuantizesARealModelThroughKafka(@TempDir Path folder) throws Exception {
        byte[] modelBytes = Files.readAllBytes(TestEnvironment.mnist8());
        UploadResult upload = client.upload(TestEnvironment.mnist8());
        assertThat(upload.getBlobId()).isEqualTo(sha256(modelBytes));
        assertThat(upload.getSize()).isEqualTo(modelBytes.length);
        String images = client.upload(TestEnvironment.digitImages()).getBlobId();
        String labels = client.upload(TestEnvironment.digitLabels()).getBlobId();

        SubmitResponse submitted = client.submit(SubmitRequest.newBuilder()
                .setModelId(upload.getBlobId())
                .addSteps(step("prune", Map.of("sparsity", "0.5")))
                .addSteps(step("quantize", Map.of("bits", "8")))
                .setEvaluationDataId(images)
                .setEvaluationLabelsId(labels)
                .build());
        List<JobEvent> events = Jobs.events(client, submitted.getJobId());

        assertTwoStepsInOrder(events);
        for (int i = 0; i < events.size(); i++) {
            assertThat(events.get(i).getSequence()).isEqualTo(i + 1L);
            assertThat(events.get(i).getJobId()).isEqualTo(submitted.getJobId());
        }
        assertThat(events).anySatisfy(event -> assertThat(event.hasProgress()).isTrue());

        Job job = client.job(submitted.getJobId());
        assertThat(job.getState()).isEqualTo(JobState.JOB_STATE_COMPLETED);
        assertThat(job.getStepResultsList()).extracting(result -> result.getTechnique()).containsExactly("prune", "quantize");
        assertThat(job.getStepResults(0).getParametersMap()).containsEntry("sparsity", "0.5");
        assertThat(job.getStepResults(1).getBytesOut()).isLessThan(job.getStepResults(0).getBytesIn());

        Path result = folder.resolve("result.onnx");
        long size = client.downloadResult(submitted.getJobId(), result);
        byte[] resultBytes = Files.readAllBytes(result);
        assertThat(resultBytes).hasSize((int) size);
        assertThat(sha256(resultBytes)).isEqualTo(job.getResultModelId());

        // the result runs in ONNX Runtime and still agrees with the original on real digits
        Evaluator evaluator = ServiceLoader.load(Evaluator.class).findFirst().orElseThrow();
        Dataset digits = DataReaders.dataset(TestEnvironment.digitImages(), TestEnvironment.digitLabels()).head(300);
        EvaluationResult measured = evaluator.compare(OnnxModel.fromBytes(modelBytes), OnnxModel.load(result), EvaluationRequest.of(digits, 300));
        assertThat(measured.top1Agreement()).isGreaterThanOrEqualTo(0.9);

        Map<String, Object> report = Structs.toMap(job.getReport());
        assertThat(report).containsKeys("original_bytes", "compressed_bytes", "ratio", "original_params", "params", "nonzero_params",
                "original_macs", "macs", "steps", "evaluation");
        assertThat(report.get("original_bytes")).isEqualTo((long) modelBytes.length);
        assertThat(report.get("compressed_bytes")).isEqualTo((long) resultBytes.length);
        assertThat((Double) report.get("ratio")).isCloseTo((double) modelBytes.length / resultBytes.length, within(1e-9));
        assertThat((Long) report.get("nonzero_params")).isLessThan((Long) report.get("original_params"));
        assertThat((Long) report.get("macs")).isPositive();
        List<Map<String, Object>> steps = (List<Map<String, Object>>) report.get("steps");
        assertThat(steps).hasSize(2);
        assertThat(steps.get(0)).containsEntry("technique", "prune").containsKeys("params", "duration_ms", "report");
        assertThat((Map<String, Object>) steps.get(0).get("report")).isNotEmpty();
        Map<String, Object> evaluation = (Map<String, Object>) report.get("evaluation");
        assertThat(evaluation).containsKeys("accuracy_before", "accuracy_after", "top1_agreement", "sqnr_db", "latency_ms_before",
                "latency_ms_after");
        assertThat((Double) evaluation.get("accuracy_before")).isBetween(0.5, 1.0);

        String json = new String(client.downloadBlob(job.getReportId()), StandardCharsets.UTF_8);
        assertThat(json).startsWith("{\"original_bytes\":" + modelBytes.length + ",").contains("\"evaluation\":{");
    }

    @Test
    void aRetriedSubmitWithTheSameRequestIdAnswersTheSameJob() {
        String model = client.upload(new byte[] {1, 2, 3}).getBlobId();
        SubmitRequest request = SubmitRequest.newBuilder().setModelId(model).addSteps(step("slow", Map.of("seconds", "0")))
                .setClientRequestId("retry-me-" + System.nanoTime()).build();
        SubmitResponse first = client.submit(request);
        SubmitResponse second = client.submit(request);
        assertThat(second.getJobId()).isEqualTo(first.getJobId());
        assertThat(first.getExisting()).isFalse();
        assertThat(second.getExisting()).isTrue();
        assertThat(first.getJobId()).as("a random id, not one derived from the request id")
                .isNotEqualTo(java.util.UUID.nameUUIDFromBytes(("condense-client-request:" + request.getClientRequestId())
                        .getBytes(StandardCharsets.UTF_8)).toString());

        // the same request id with another pipeline is refused, naming the job the id already belongs to
        SubmitRequest other = request.toBuilder().setSteps(0, step("slow", Map.of("seconds", "1"))).build();
        assertThatThrownBy(() -> client.submit(other)).isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
            assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.ALREADY_EXISTS);
            assertThat(e.getStatus().getDescription()).contains(request.getClientRequestId()).contains(first.getJobId());
        });
        assertThat(client.submit(request).getJobId()).as("the first job is still the id's").isEqualTo(first.getJobId());
    }

    @Test
    void retriesARetriableFailureAndCompletes() throws Exception {
        String model = client.upload(TestEnvironment.mnist8()).getBlobId();
        SubmitResponse submitted = client.submit(SubmitRequest.newBuilder().setModelId(model).addSteps(step("flaky")).build());
        List<JobEvent> events = Jobs.events(client, submitted.getJobId());
        assertThat(Jobs.kinds(events)).containsExactly("ACCEPTED", "STEP_STARTED 1", "STEP_RETRY 1", "STEP_STARTED 1", "STEP_RETRY 1",
                "STEP_STARTED 1", "STEP_COMPLETED 1", "COMPLETED");
        assertThat(events.get(2).getStepRetry().getError().getCode()).isEqualTo("UNAVAILABLE");
    }

    @Test
    @SuppressWarnings("unchecked")
    void trainingDataAndLabelsReachTheStepThroughKafka() throws Exception {
        String model = client.upload(TestEnvironment.mnist8()).getBlobId();
        String images = client.upload(TestEnvironment.digitImages()).getBlobId();
        String labels = client.upload(TestEnvironment.digitLabels()).getBlobId();
        SubmitResponse submitted = client.submit(SubmitRequest.newBuilder().setModelId(model)
                .addSteps(step("trainprobe")).addSteps(step("trainprobe"))
                .setTrainDataId(images).setTrainLabelsId(labels).setSkipEvaluation(true).build());
        List<JobEvent> events = Jobs.events(client, submitted.getJobId());
        assertTwoStepsInOrder(events);

        List<Object> expectedCounts = labelCounts(Files.readAllBytes(TestEnvironment.digitLabels()));
        Job job = client.job(submitted.getJobId());
        // both steps get it: the ids travel in the spec of every StepRequested
        for (int step = 0; step < 2; step++) {
            Map<String, Object> report = Structs.toMap(job.getStepResults(step).getReport());
            assertThat(report).containsEntry("training_data", true).containsEntry("samples", 10_000L).containsEntry("labels", 10_000L);
            assertThat((List<Object>) report.get("input_shape")).containsExactly(10_000L, 28L, 28L);
            assertThat((List<Object>) report.get("label_counts")).isEqualTo(expectedCounts);
        }

        // a job without training data: the step sees none
        String plain = client.submit(SubmitRequest.newBuilder().setModelId(model).addSteps(step("trainprobe")).setSkipEvaluation(true)
                .build()).getJobId();
        Jobs.events(client, plain);
        Job plainJob = client.job(plain);
        assertThat(plainJob.getState()).isEqualTo(JobState.JOB_STATE_COMPLETED);
        assertThat(Structs.toMap(plainJob.getStepResults(0).getReport())).containsEntry("training_data", false).doesNotContainKey("samples");
    }

    @Test
    void trainingLabelsThatDoNotMatchTheInputsFailTheStepThatReadsThemWithInvalidData() {
        // accepted by the API (both ids stored); the counts are checked when the step reads the data
        String realModel = uploadQuietly(TestEnvironment.mnist8());
        String images = uploadQuietly(TestEnvironment.digitImages());
        String fiveLabels = client.upload(Npy.toBytes(NdArray.ofLongs(new long[] {5}, new long[] {0, 1, 2, 3, 4}))).getBlobId();
        String jobId = client.submit(SubmitRequest.newBuilder().setModelId(realModel).addSteps(step("trainprobe"))
                .setTrainDataId(images).setTrainLabelsId(fiveLabels).setSkipEvaluation(true).build()).getJobId();
        List<JobEvent> events = Jobs.events(client, jobId);
        assertThat(Jobs.kinds(events)).containsExactly("ACCEPTED", "STEP_STARTED 1", "FAILED");
        Job job = client.job(jobId);
        assertThat(job.getState()).isEqualTo(JobState.JOB_STATE_FAILED);
        assertThat(job.getError().getStep()).isEqualTo(1);
        assertThat(job.getError().getTechnique()).isEqualTo("trainprobe");
        assertThat(job.getError().getCode()).isEqualTo("INVALID_DATA");
        assertThat(job.getError().getCategory()).isEqualTo("USER");
        assertThat(job.getError().getMessage())
                .contains("train_data_id " + images).contains("train_labels_id " + fiveLabels)
                .contains("labels hold 5 samples but inputs hold 10000")
                .doesNotContain("scratch")
                .doesNotContain("\tat ");
    }

    @Test
    void theCompressCommandUploadsAndPassesTrainingData(@TempDir Path folder) throws Exception {
        String requestId = "train-cli-" + System.nanoTime();
        Path output = folder.resolve("out.onnx");
        int exit = condense("compress",
                TestEnvironment.mnist8().toString(), "--pipeline", "trainprobe", "-o", output.toString(),
                "--train-data", TestEnvironment.digitImages().toString(), "--train-labels", TestEnvironment.digitLabels().toString(),
                "--server", platform.grpcTarget(), "--no-evaluation", "--request-id", requestId);
        assertThat(exit).isZero();
        assertThat(output).isRegularFile();
        assertThat(java.nio.file.Files.getPosixFilePermissions(output)).as("the written model is an ordinary readable file")
                .contains(java.nio.file.attribute.PosixFilePermission.OTHERS_READ, java.nio.file.attribute.PosixFilePermission.GROUP_READ);
        String jobId = client.jobs(100, JobState.JOB_STATE_UNSPECIFIED).stream().filter(job -> job.getClientRequestId().equals(requestId))
                .findFirst().orElseThrow().getJobId();
        Map<String, Object> report = Structs.toMap(client.job(jobId).getStepResults(0).getReport());
        assertThat(report).containsEntry("training_data", true).containsEntry("samples", 10_000L).containsEntry("labels", 10_000L);

        // labels alone, or inputs alone, are refused before anything is uploaded
        int labelsOnly = condense("compress",
                TestEnvironment.mnist8().toString(), "--pipeline", "trainprobe", "-o", folder.resolve("never.onnx").toString(),
                "--train-labels", TestEnvironment.digitLabels().toString(), "--server", platform.grpcTarget());
        assertThat(labelsOnly).isEqualTo(2);
        int inputsOnly = condense("compress",
                TestEnvironment.mnist8().toString(), "--pipeline", "trainprobe", "-o", folder.resolve("never.onnx").toString(),
                "--train-data", TestEnvironment.digitImages().toString(), "--server", platform.grpcTarget());
        assertThat(inputsOnly).isEqualTo(2);
        assertThat(folder.resolve("never.onnx")).doesNotExist();
    }

    @Test
    void theCompressCommandSendsAnUnchangedFileOnceAndAgainWhenTheServerLostIt(@TempDir Path folder) throws Exception {
        // calibration digits of this run alone (random values), so that removing their blob touches no other test
        java.util.Random random = new java.util.Random(System.nanoTime());
        float[] values = new float[8 * 28 * 28];
        for (int i = 0; i < values.length; i++) {
            values[i] = random.nextFloat() * 255;
        }
        Path calibration = folder.resolve("calibration.npy");
        Npy.write(calibration, NdArray.ofFloats(new long[] {8, 1, 28, 28}, values));
        String calibrationId = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(calibration)));
        String[] command = {"compress", TestEnvironment.mnist8().toString(), "--pipeline", "quantize(activations=true, calibration_samples=8)",
                "-o", folder.resolve("out.onnx").toString(), "--calibration-data", calibration.toString(), "--server", platform.grpcTarget(),
                "--no-evaluation"};

        InProcessCli.Run first = InProcessCli.condense(command);
        assertThat(first.exitCode()).as(first.err()).isZero();
        assertThat(first.err()).doesNotContain("Not sending " + calibration);
        InProcessCli.Run second = InProcessCli.condense(command);
        assertThat(second.exitCode()).as(second.err()).isZero();
        assertThat(second.err()).contains("Not sending " + calibration + ": sent to this server before and unchanged since (blob "
                + calibrationId.substring(0, 12));

        // the server lost the blob (collected after its retention): Submit answers NOT_FOUND, the command sends the file
        Path blob;
        try (var files = Files.walk(TestPlatform.dataFolder())) {
            blob = files.filter(file -> file.getFileName().toString().equals(calibrationId)).findFirst().orElseThrow();
        }
        Files.delete(blob);
        InProcessCli.Run third = InProcessCli.condense(command);
        assertThat(third.exitCode()).as(third.err()).isZero();
        // every file it did not send goes after all (the model too, which the server still holds)
        assertThat(third.err()).contains("The server no longer holds an earlier upload (NOT_FOUND: calibration_data_id " + calibrationId)
                .containsPattern("sending \\[.*" + java.util.regex.Pattern.quote(calibration.toString()) + ".*\\] after all");
        assertThat(blob).isRegularFile();
        InProcessCli.Run fourth = InProcessCli.condense(command);
        assertThat(fourth.err()).contains("Not sending " + calibration);

        String[] everything = java.util.Arrays.copyOf(command, command.length + 1);
        everything[command.length] = "--no-upload-cache";
        InProcessCli.Run plain = InProcessCli.condense(everything);
        assertThat(plain.exitCode()).as(plain.err()).isZero();
        assertThat(plain.err()).doesNotContain("Not sending");
    }

    private static String uploadQuietly(Path file) {
        try {
            return client.upload(file).getBlobId();
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /** How many labels of each class 0..max an IDX1 label file holds, read from its bytes (8-byte header). */
    private static List<Object> labelCounts(byte[] idx) {
        long[] counts = new long[256];
        int max = 0;
        for (int i = 8; i < idx.length; i++) {
            int label = idx[i] & 0xFF;
            counts[label]++;
            max = Math.max(max, label);
        }
        List<Object> list = new java.util.ArrayList<>();
        for (int label = 0; label <= max; label++) {
            list.add(counts[label]);
        }
        return list;
    }

    @Test
    void listsTheLoadedTechniquesAndThePluginsThatDidNotLoad() {
        ListTechniquesResponse response = client.techniques();
        assertThat(response.getTechniquesList()).extracting(TechniqueInfo::getId)
                .contains("prune", "quantize", "explode", "slow", "flaky", "trainprobe").doesNotContain("future");
        TechniqueInfo prune = response.getTechniquesList().stream().filter(t -> t.getId().equals("prune")).findFirst().orElseThrow();
        assertThat(prune.getPluginId()).isEqualTo("pruning");
        assertThat(prune.getParametersList()).anySatisfy(parameter -> {
            assertThat(parameter.getName()).isEqualTo("sparsity");
            assertThat(parameter.getRange()).isEqualTo("[0, 1)");
        });
        TechniqueInfo slow = response.getTechniquesList().stream().filter(t -> t.getId().equals("slow")).findFirst().orElseThrow();
        assertThat(slow.getPluginVersion()).isEqualTo("1.0.0");
        assertThat(response.getPluginProblemsList()).anySatisfy(problem -> {
            assertThat(problem.getPluginId()).isEqualTo("future");
            assertThat(problem.getPluginVersion()).isEqualTo("2.0.0");
            assertThat(problem.getPath()).endsWith("future-plugin-2.0.0.jar");
            assertThat(problem.getMessage()).contains(">=99.0.0");
        });
        assertThat(response.getPluginProblemsList()).anySatisfy(problem -> assertThat(problem.getPath()).endsWith("corrupt-plugin-1.0.0.jar"));
    }

    @Test
    void servesHealthAndReflection() throws Exception {
        HealthCheckResponse health = HealthGrpc.newBlockingStub(client.channel()).check(HealthCheckRequest.newBuilder().setService("").build());
        assertThat(health.getStatus()).isEqualTo(HealthCheckResponse.ServingStatus.SERVING);
        HealthCheckResponse service = HealthGrpc.newBlockingStub(client.channel())
                .check(HealthCheckRequest.newBuilder().setService("condense.v1.CompressionService").build());
        assertThat(service.getStatus()).isEqualTo(HealthCheckResponse.ServingStatus.SERVING);

        CompletableFuture<ServerReflectionResponse> answer = new CompletableFuture<>();
        StreamObserver<ServerReflectionRequest> requests = ServerReflectionGrpc.newStub(client.channel()).serverReflectionInfo(
                new StreamObserver<>() {
                    @Override
                    public void onNext(ServerReflectionResponse value) {
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
        requests.onNext(ServerReflectionRequest.newBuilder().setListServices("").build());
        ServerReflectionResponse response = answer.get(30, TimeUnit.SECONDS);
        requests.onCompleted();
        assertThat(response.getListServicesResponse().getServiceList()).extracting(s -> s.getName())
                .contains("condense.v1.CompressionService", "grpc.health.v1.Health");
    }

    static String sha256(byte[] bytes) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    }

    private static void assertTwoStepsInOrder(List<JobEvent> events) {
        assertThat(Jobs.kinds(events)).isIn(Jobs.TWO_STEPS_COMPLETED);
    }

    /** Runs the command line in this process, as {@code ./condense} would with these arguments; its exit code. */
    private static int condense(String... arguments) {
        return io.condense.server.cli.CondenseCommand.commandLine(arguments).execute(arguments);
    }
}
