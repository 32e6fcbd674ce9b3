package io.condense.it;

import static io.condense.it.Jobs.step;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.condense.proto.v1.JobState;
import io.condense.proto.v1.SubmitRequest;
import io.condense.server.cli.CondenseClient;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The command line as an operator uses it: {@code condense jobs}, {@code status}, {@code cancel}, {@code download}
 * against a server; the documented exit code 2 for a model file that is no model (it was 1); and the embedded
 * {@code compress} on a poison model ends, with the error and no Java stack trace.
 */
class OperatorCliIT {
    private static CondenseClient client;
    private static String server;

    @BeforeAll
    static void start() {
        server = TestPlatform.get().grpcTarget();
        client = new CondenseClient(server);
    }

    @AfterAll
    static void stop() {
        client.close();
    }

    private static InProcessCli.Run condense(String... arguments) {
        return InProcessCli.condense(arguments);
    }

    @Test
    void jobsStatusCancelAndDownload(@TempDir Path folder) throws Exception {
        String model = client.upload(TestEnvironment.mnist8()).getBlobId();
        String done = client.submit(SubmitRequest.newBuilder().setModelId(model).addSteps(step("quantize", Map.of("bits", "8")))
                .setSkipEvaluation(true).build()).getJobId();
        await().atMost(Duration.ofSeconds(120)).until(() -> client.job(done).getState() == JobState.JOB_STATE_COMPLETED);
        String slow = client.submit(SubmitRequest.newBuilder().setModelId(model).addSteps(step("slow", Map.of("seconds", "120")))
                .build()).getJobId();

        InProcessCli.Run jobs = condense("jobs", "--server", server);
        assertThat(jobs.exitCode()).isZero();
        assertThat(jobs.out()).contains(done).contains(slow).contains("quantize(bits=8)").contains("slow(seconds=120)");
        assertThat(jobs.out().indexOf(slow)).as("newest first").isLessThan(jobs.out().indexOf(done));
        InProcessCli.Run completedOnly = condense("jobs", "--server", server, "--state", "completed");
        assertThat(completedOnly.out()).contains(done).doesNotContain(slow);
        assertThat(condense("jobs", "--server", server, "--state", "sleeping").exitCode()).isEqualTo(2);

        InProcessCli.Run status = condense("status", done, "--server", server);
        assertThat(status.exitCode()).isZero();
        String resultId = client.job(done).getResultModelId();
        assertThat(status.out()).contains("COMPLETED").contains(resultId).contains("step 1     quantize");

        Path output = folder.resolve("out.onnx");
        Path report = folder.resolve("report.json");
        InProcessCli.Run download = condense("download", done, "-o", output.toString(), "--report", report.toString(), "--server", server);
        assertThat(download.exitCode()).isZero();
        assertThat(HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(output)))).isEqualTo(resultId);
        assertThat(Files.readString(report)).contains("\"steps\"");

        InProcessCli.Run cancel = condense("cancel", slow, "--server", server);
        assertThat(cancel.exitCode()).isZero();
        assertThat(cancel.out()).contains("Asked job " + slow + " to stop");
        await().atMost(Duration.ofSeconds(120)).until(() -> client.job(slow).getState() == JobState.JOB_STATE_CANCELLED);
        assertThat(condense("status", slow, "--server", server).out()).contains("CANCELLED");
        InProcessCli.Run noResult = condense("download", slow, "-o", folder.resolve("never.onnx").toString(), "--server", server);
        assertThat(noResult.exitCode()).as("a cancelled job has no result").isEqualTo(1);
        assertThat(folder.resolve("never.onnx")).doesNotExist();

        InProcessCli.Run unknown = condense("status", "00000000-0000-0000-0000-000000000000", "--server", server);
        assertThat(unknown.exitCode()).isEqualTo(2);
        assertThat(unknown.err()).contains("NOT_FOUND");
    }

    @Test
    void aModelFileThatIsNoModelIsBadInputExitCodeTwo(@TempDir Path folder) throws Exception {
        Path garbage = folder.resolve("garbage.onnx");
        Files.write(garbage, "this is not an ONNX model at all".getBytes(StandardCharsets.UTF_8));
        // the server refuses it (the command does not read the model itself when it need not look at its inputs)
        InProcessCli.Run run = condense("compress", garbage.toString(), "--pipeline", "prune", "-o", folder.resolve("out.onnx").toString(),
                "--server", server, "--no-evaluation");
        assertThat(run.exitCode()).isEqualTo(2);
        assertThat(run.err()).contains("FAILED at step 1 (prune)").contains("INVALID_MODEL");
        // the command refuses it before uploading when it reads the inputs to check their shapes
        InProcessCli.Run local = condense("compress", garbage.toString(), "--pipeline", "prune", "-o", folder.resolve("out.onnx").toString(),
                "--server", server);
        assertThat(local.exitCode()).isEqualTo(2);
        assertThat(local.err()).contains("not an ONNX model").doesNotContain("\tat ");
    }

    @Test
    void theEmbeddedCommandEndsAPoisonJobWithItsErrorAndNoStackTrace(@TempDir Path folder) throws Exception {
        Path poison = folder.resolve("poison.onnx");
        Files.write(poison, TinyModels.matMul(1, 100_000_000, 16));
        Path log = folder.resolve("condense-cli.log");
        List<String> command = new ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx1g",
                "-Dcondense.plugins.dir=" + TestEnvironment.realPluginArchives().get(0).getParent().toAbsolutePath(),
                "-cp", ServerProcess.packagedServerClasspath(),
                "io.condense.server.cli.CondenseCommand",
                "compress", poison.toString(), "--pipeline", "prune(sparsity=0.5, min_elements=0)", "-o", folder.resolve("out.onnx").toString()));
        Process process = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        try {
            // a limit against hanging, not a timing: the embedded platform alone takes a minute on a busy machine
            assertThat(process.waitFor(8, TimeUnit.MINUTES)).as("condense compress ended; output:\n%s", Files.readString(log)).isTrue();
        } finally {
            process.destroyForcibly().waitFor();
        }
        String output = Files.readString(log, StandardCharsets.UTF_8);
        assertThat(process.exitValue()).as(output).isEqualTo(1);
        assertThat(output).contains("FAILED after its steps, in the evaluation: RESOURCE_EXHAUSTED")
                .contains("[1, 100000000, 16]")
                .doesNotContain("\tat ")
                .doesNotContain("OutOfMemoryError");
        assertThat(folder.resolve("out.onnx")).doesNotExist();
    }
}
