package io.condense.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.condense.proto.v1.Job;
import io.condense.proto.v1.JobState;
import io.condense.proto.v1.SubmitRequest;
import io.condense.proto.v1.events.BusEvent;
import io.condense.sdk.data.Idx;
import io.condense.sdk.data.Npy;
import io.condense.server.cli.CondenseClient;
import io.condense.server.search.SearchSpec;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A search job on {@code condense serve}, the server killed (kill -9) while the search runs with some candidates finished,
 * then started again on the same data folder: the search resumes and completes once, and no candidate that had finished
 * before the kill runs again (its steps started once, its job completed once, the resumed search names it "resumed").
 */
class SearchRestartIT {
    private static final int DIGITS = 1_000;

    @Test
    void aKilledServerResumesTheSearchWithoutRerunningFinishedCandidates(@TempDir Path data) throws Exception {
        Path plugins = TestPlatform.pluginsFolder();
        Path log = Files.createTempFile("condense-search-restart-", ".log");
        Path images = data.resolveSibling(data.getFileName() + "-digits.npy");
        Path labels = data.resolveSibling(data.getFileName() + "-labels.npy");
        Npy.write(images, Idx.read(TestEnvironment.digitImages()).slice(0, DIGITS));
        Npy.write(labels, Idx.read(TestEnvironment.digitLabels()).slice(0, DIGITS));
        String searchJob;
        Set<String> finishedBeforeKill;
        try (ServerProcess first = ServerProcess.start(data, plugins, log);
                CondenseClient client = new CondenseClient(first.grpcTarget())) {
            SubmitRequest request = SubmitRequest.newBuilder()
                    .setModelId(client.upload(TestEnvironment.sharedFolder().resolve("models/pytorch_cnn_mnist.onnx")).getBlobId())
                    .setEvaluationDataId(client.upload(images).getBlobId()).setEvaluationLabelsId(client.upload(labels).getBlobId())
                    .setSearch(SearchSpec.parse("max_drop=0.005, techniques=quantize+lowrank").toBuilder().setBudgetMs(600_000))
                    .setClientRequestId("search-restart-it").build();
            searchJob = client.submit(request).getJobId();
            // mid-search: a candidate has finished, the search has not
            await().atMost(Duration.ofSeconds(240)).pollInterval(Duration.ofMillis(200)).until(() -> !candidates(client, searchJob).isEmpty());
            finishedBeforeKill = candidates(client, searchJob);
            assertThat(client.job(searchJob).getState()).as("the search job when the server is killed").isEqualTo(JobState.JOB_STATE_RUNNING);
            first.kill();
        }

        try (ServerProcess second = ServerProcess.start(data, plugins, log);
                CondenseClient client = new CondenseClient(second.grpcTarget())) {
            await().atMost(Duration.ofSeconds(300)).pollInterval(Duration.ofMillis(500)).until(() -> {
                assertThat(second.alive()).as("the restarted server is running (log: %s)", log).isTrue();
                JobState state = client.job(searchJob).getState();
                assertThat(state).as("the search job (log: %s)", log).isIn(JobState.JOB_STATE_QUEUED, JobState.JOB_STATE_RUNNING,
                        JobState.JOB_STATE_COMPLETED);
                return state == JobState.JOB_STATE_COMPLETED;
            });
            Job done = client.job(searchJob);
            assertThat(done.getResultModelId()).isNotEmpty();
            assertThat(done.getReport().getFieldsOrThrow("search").getStructValue().getFieldsOrThrow("candidates").getListValue().getValuesCount())
                    .isGreaterThanOrEqualTo(finishedBeforeKill.size());

            List<BusEvent> events = new ArrayList<>();
            for (ConsumerRecord<String, byte[]> record : TopicRecords.read(second.kafkaBootstrap(), "condense.events")) {
                events.add(BusEvent.parseFrom(record.value()));
            }
            Map<String, Long> stepStarts = new HashMap<>();
            Map<String, Long> completions = new HashMap<>();
            Map<String, Long> submissionsByRequest = new HashMap<>();
            List<String> searchProgress = new ArrayList<>();
            for (BusEvent event : events) {
                if (event.hasStepStarted()) {
                    stepStarts.merge(event.getJobId() + "/" + event.getStepStarted().getStepIndex(), 1L, Long::sum);
                }
                if (event.hasJobCompleted()) {
                    completions.merge(event.getJobId(), 1L, Long::sum);
                }
                if (event.hasJobSubmitted() && event.getJobSubmitted().getSpec().getClientRequestId().startsWith("search-" + searchJob)) {
                    submissionsByRequest.merge(event.getJobSubmitted().getSpec().getClientRequestId(), 1L, Long::sum);
                }
                if (event.getJobId().equals(searchJob) && event.hasProgress()) {
                    searchProgress.add(event.getProgress().getMessage());
                }
            }
            assertThat(stepStarts.get(searchJob + "/0")).as("the search step ran, was cut off, and ran again").isEqualTo(2);
            assertThat(completions.get(searchJob)).as("the search job completed once").isEqualTo(1);
            assertThat(submissionsByRequest.values()).as("each candidate is one job").containsOnly(1L);
            for (String candidate : finishedBeforeKill) {
                assertThat(completions.get(candidate)).as("candidate %s completed once", candidate).isEqualTo(1);
                assertThat(stepStarts.entrySet().stream().filter(e -> e.getKey().startsWith(candidate + "/")).map(Map.Entry::getValue))
                        .as("every step of candidate %s started once", candidate).isNotEmpty().containsOnly(1L);
                assertThat(searchProgress).as("the resumed search took candidate %s from its job", candidate)
                        .anyMatch(line -> line.startsWith("resumed " + candidate));
            }
        } finally {
            Files.deleteIfExists(images);
            Files.deleteIfExists(labels);
        }
    }

    /** The completed candidate jobs of the search (their client request ids are derived from the search job's id). */
    private static Set<String> candidates(CondenseClient client, String searchJob) {
        return client.jobs(1000, JobState.JOB_STATE_COMPLETED).stream()
                .filter(job -> job.getClientRequestId().startsWith("search-" + searchJob + "-"))
                .map(Job::getJobId).collect(Collectors.toSet());
    }
}
