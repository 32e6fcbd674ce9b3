package io.condense.it;

import static org.assertj.core.api.Assertions.assertThat;

import io.condense.proto.v1.Job;
import io.condense.proto.v1.JobState;
import io.condense.sdk.data.DataReaders;
import io.condense.sdk.data.Dataset;
import io.condense.sdk.eval.EvaluationRequest;
import io.condense.sdk.eval.EvaluationResult;
import io.condense.sdk.model.OnnxModel;
import io.condense.server.cli.CondenseClient;
import io.condense.server.platform.CondensePlatform;
import io.condense.server.runtime.OnnxRuntimeEvaluator;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.assertj.core.api.InstanceOfAssertFactories;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * What every client in another language must do against the embedded platform: upload a real model, submit
 * prune then quantize, follow the job to its end and download a smaller model that runs in ONNX Runtime; and
 * hand on the server's message with a non-zero exit code when the server says no or the job fails.
 * {@link PythonClientIT} and {@link NodeClientIT} run it with their client.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
abstract class ForeignClientTests {
    private static final Duration CLIENT_TIMEOUT = Duration.ofMinutes(3);

    private CondensePlatform platform;
    private CondenseClient javaClient;
    private ForeignClient client;

    /** The client under test; fails the test with what to install when it cannot run here. */
    abstract ForeignClient client();

    @BeforeAll
    void startPlatformAndCheckClient(@TempDir Path folder) {
        client = client();
        client.checkInstalled(folder);
        platform = TestPlatform.get();
        javaClient = new CondenseClient(platform.grpcTarget());
    }

    @AfterAll
    void closeJavaClient() {
        if (javaClient != null) {
            javaClient.close();
        }
    }

    @Test
    void uploadsSubmitsPruneThenQuantizeAndDownloadsASmallerModelThatRuns(@TempDir Path folder) throws Exception {
        Path model = TestEnvironment.mnist8();
        byte[] modelBytes = Files.readAllBytes(model);
        Path output = folder.resolve("mnist8-" + client.language() + ".onnx");

        ForeignClient.Run run = client.run(arguments(model, output, List.of("--step", "prune", "sparsity=0.5", "--step", "quantize", "bits=8")),
                folder, CLIENT_TIMEOUT);

        assertThat(run.exitCode()).as("exit code of %s", run).isZero();
        Map<String, Object> summary = run.summary();
        assertThat(summary).as(run.toString())
                .containsEntry("client", client.language())
                .containsEntry("state", "JOB_STATE_COMPLETED")
                .containsEntry("model_id", EndToEndIT.sha256(modelBytes))
                .containsEntry("input_bytes", (long) modelBytes.length)
                .containsEntry("steps", List.of("prune", "quantize"));
        assertThat(summary.get("events")).as(run.toString()).isIn(Jobs.TWO_STEPS_COMPLETED.toArray());

        // what the client wrote is the job's result, as the server knows it
        byte[] resultBytes = Files.readAllBytes(output);
        Job job = javaClient.job((String) summary.get("job_id"));
        assertThat(job.getState()).isEqualTo(JobState.JOB_STATE_COMPLETED);
        assertThat(job.getStepResultsList()).extracting(result -> result.getTechnique()).containsExactly("prune", "quantize");
        assertThat(job.getStepResults(0).getParametersMap()).containsEntry("sparsity", "0.5");
        assertThat(summary).containsEntry("result_model_id", job.getResultModelId()).containsEntry("output_bytes", (long) resultBytes.length);
        assertThat(EndToEndIT.sha256(resultBytes)).isEqualTo(job.getResultModelId());
        assertThat(resultBytes.length).isLessThan(modelBytes.length);

        // it loads and runs in ONNX Runtime, and still agrees with the original on real digits
        OnnxModel result = OnnxModel.load(output);
        OnnxRuntimeEvaluator evaluator = new OnnxRuntimeEvaluator();
        try (var session = evaluator.open(result)) {
            assertThat(session.inputs()).isNotEmpty();
        }
        Dataset digits = DataReaders.dataset(TestEnvironment.digitImages(), TestEnvironment.digitLabels()).head(300);
        EvaluationResult measured = evaluator.compare(OnnxModel.fromBytes(modelBytes), result, EvaluationRequest.of(digits, 300));
        assertThat(measured.top1Agreement()).isGreaterThanOrEqualTo(0.9);
    }

    @Test
    void exitsNonZeroWithTheServersMessageWhenSubmitIsRefused(@TempDir Path folder) {
        ForeignClient.Run run = client.run(arguments(TestEnvironment.mnist8(), folder.resolve("never.onnx"),
                List.of("--step", "shrink", "--step", "prune", "sparsity=1.5")), folder, CLIENT_TIMEOUT);

        assertThat(run.exitCode()).as(run.toString()).isEqualTo(3);
        assertThat(run.stderr()).as(run.toString())
                .contains("Submit failed: INVALID_ARGUMENT")
                .contains("Unknown technique 'shrink' in step 1")
                .contains("prune", "quantize");
        assertThat(folder.resolve("never.onnx")).doesNotExist();
    }

    @Test
    void exitsNonZeroWithTheJobsErrorWhenTheJobFails(@TempDir Path folder) throws IOException {
        // more than one 1 MiB chunk of bytes that are not a model
        Path garbage = folder.resolve("garbage.onnx");
        byte[] bytes = new byte[2 * 1024 * 1024 + 12345];
        new Random(7).nextBytes(bytes);
        Files.write(garbage, bytes);

        ForeignClient.Run run = client.run(arguments(garbage, folder.resolve("never.onnx"), List.of("--step", "prune")), folder, CLIENT_TIMEOUT);

        assertThat(run.exitCode()).as(run.toString()).isEqualTo(1);
        Map<String, Object> summary = run.summary();
        assertThat(summary).as(run.toString())
                .containsEntry("state", "JOB_STATE_FAILED")
                .containsEntry("input_bytes", (long) bytes.length)
                .containsEntry("events", List.of("ACCEPTED", "STEP_STARTED 1", "FAILED"));
        assertThat(summary.get("error")).asInstanceOf(InstanceOfAssertFactories.MAP)
                .containsEntry("step", 1L).containsEntry("technique", "prune").containsEntry("code", "INVALID_MODEL");
        assertThat(run.stderr()).contains("ended JOB_STATE_FAILED").contains("not an ONNX model");
        assertThat(folder.resolve("never.onnx")).doesNotExist();
    }

    private List<String> arguments(Path model, Path output, List<String> steps) {
        List<String> arguments = new ArrayList<>(List.of("--server", platform.grpcTarget(), "--proto-dir", ForeignClient.protoFolder().toString(),
                "--model", model.toAbsolutePath().toString(), "--output", output.toAbsolutePath().toString(), "--timeout", "120"));
        arguments.addAll(steps);
        return arguments;
    }
}
