package io.condense.it;

import static io.condense.it.Jobs.step;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.condense.proto.v1.Job;
import io.condense.proto.v1.JobState;
import io.condense.proto.v1.SubmitRequest;
import io.condense.server.cli.CondenseClient;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.header.Header;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A step that takes its worker process down (the {@code halt} test plugin halts the JVM, as a native crash or the
 * out-of-memory killer would) is run again after each restart only until it has done so twice; then its job fails and
 * its step message goes to the dead-letter topic, and the restarted server keeps working. Before, it was consumed
 * again after every restart, forever. The crashing step follows a quantize step that the first server runs in the same
 * worker and transaction ({@code StepChain}): its crash takes the uncommitted quantize step with it, which runs again on
 * its own after the restart, completes once, and is not the step blamed.
 */
class WorkerCrashIT {

    @Test
    void aJobThatCrashedItsWorkerTwiceFailsAndGoesToTheDeadLetterTopic(@TempDir Path data) throws Exception {
        Path plugins = TestPlatform.pluginsFolderWithTestPlugins();
        TestPlugins.build("halt", "halt", "1.0.0", ">=0.1.0", plugins.resolve("halt-plugin-1.0.0.jar"));
        Path log = Files.createTempFile("condense-crash-", ".log");
        String jobId;
        String model;
        try (ServerProcess first = ServerProcess.start(data, plugins, log);
                CondenseClient client = new CondenseClient(first.grpcTarget())) {
            model = client.upload(TestEnvironment.mnist8()).getBlobId();
            jobId = client.submit(SubmitRequest.newBuilder().setModelId(model).addSteps(step("quantize", Map.of("bits", "8")))
                    .addSteps(step("halt")).build()).getJobId();
            awaitDeath(first, log);
        }
        // the step is delivered again after the restart, and takes this worker down too (maybe before it says it is ready)
        try {
            try (ServerProcess second = ServerProcess.start(data, plugins, log)) {
                awaitDeath(second, log);
            }
        } catch (IllegalStateException diedBeforeReady) {
            assertThat(diedBeforeReady).hasMessageContaining("did not become ready");
        }
        try (ServerProcess third = ServerProcess.start(data, plugins, log);
                CondenseClient client = new CondenseClient(third.grpcTarget())) {
            await().atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofMillis(250)).until(() -> {
                assertThat(third.alive()).as("the third server keeps running (log: %s)", log).isTrue();
                return client.job(jobId).getState() == JobState.JOB_STATE_FAILED;
            });
            Job failed = client.job(jobId);
            assertThat(failed.getError().getStep()).isEqualTo(2);
            assertThat(failed.getStepResultsList()).as("quantize, chained before the crash, completed once after it")
                    .extracting(io.condense.proto.v1.StepResult::getTechnique).containsExactly("quantize");
            assertThat(failed.getError().getTechnique()).isEqualTo("halt");
            assertThat(failed.getError().getCode()).isEqualTo("INTERNAL_ERROR");
            assertThat(failed.getError().getMessage()).contains("stopped its worker 2 times").contains("condense.steps.dlq");

            // the job view learns the failure when the worker's transaction commits, the dead-letter partition's commit
            // marker may follow a moment later (read_committed reads up to it): wait until that record is readable
            List<ConsumerRecord<String, byte[]>> deadLetters = await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(250))
                    .until(() -> TopicRecords.read(third.kafkaBootstrap(), "condense.steps.dlq"),
                            records -> records.stream().anyMatch(record -> record.key().equals(jobId)));
            assertThat(deadLetters).filteredOn(record -> record.key().equals(jobId)).singleElement().satisfies(record -> {
                Header code = record.headers().lastHeader("condense.error.code");
                assertThat(new String(code.value(), StandardCharsets.UTF_8)).isEqualTo("INTERNAL_ERROR");
                assertThat(new String(record.headers().lastHeader("condense.step").value(), StandardCharsets.UTF_8)).isEqualTo("2");
            });

            // the server that refused to run the step again works
            String next = client.submit(SubmitRequest.newBuilder().setModelId(model).addSteps(step("quantize", Map.of("bits", "8")))
                    .setSkipEvaluation(true).build()).getJobId();
            await().atMost(Duration.ofSeconds(120)).until(() -> client.job(next).getState() == JobState.JOB_STATE_COMPLETED);
            assertThat(third.alive()).isTrue();
        }
    }

    private static void awaitDeath(ServerProcess server, Path log) {
        await().atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofMillis(250))
                .alias("the halt step takes the server down (log: " + log + ")").until(() -> !server.alive());
        assertThat(server.exitValue()).isEqualTo(137);
    }
}
