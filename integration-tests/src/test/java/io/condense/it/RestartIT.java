package io.condense.it;

import static io.condense.it.Jobs.step;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.condense.proto.v1.JobState;
import io.condense.proto.v1.SubmitRequest;
import io.condense.proto.v1.SubmitResponse;
import io.condense.proto.v1.events.BusEvent;
import io.condense.server.cli.CondenseClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.stream.Collectors;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Kill -9 a server mid-job and start it again on the same data folder: every job accepted before the
 * kill completes, and each job's steps and completion are recorded exactly once.
 */
class RestartIT {
    private static final int JOBS = 4;

    @Test
    void everyAcceptedJobCompletesOnceAfterAKill(@TempDir Path data) throws Exception {
        Path plugins = TestPlatform.pluginsFolderWithTestPlugins();
        Path log = Files.createTempFile("condense-restart-", ".log");
        List<String> jobIds = new ArrayList<>();
        List<SubmitRequest> requests = new ArrayList<>();
        try (ServerProcess first = ServerProcess.start(data, plugins, log);
                CondenseClient client = new CondenseClient(first.grpcTarget())) {
            String model = client.upload(TestEnvironment.mnist8()).getBlobId();
            for (int i = 0; i < JOBS; i++) {
                SubmitRequest request = SubmitRequest.newBuilder().setModelId(model)
                        .addSteps(step("slow", Map.of("seconds", "1.5")))
                        .addSteps(step("quantize", Map.of("bits", "8")))
                        .setClientRequestId("restart-" + i)
                        .build();
                requests.add(request);
                jobIds.add(client.submit(request).getJobId());
            }
            // mid-job: the first step of some job is running
            await().atMost(Duration.ofSeconds(120)).until(() -> jobIds.stream()
                    .anyMatch(id -> client.job(id).getState() == JobState.JOB_STATE_RUNNING));
            assertThat(jobIds.stream().map(client::job).filter(job -> job.getState() == JobState.JOB_STATE_COMPLETED).count())
                    .as("jobs done before the kill").isLessThan(JOBS);
            first.kill();
        }

        try (ServerProcess second = ServerProcess.start(data, plugins, log);
                CondenseClient client = new CondenseClient(second.grpcTarget())) {
            for (String jobId : jobIds) {
                await().atMost(Duration.ofSeconds(180)).pollInterval(Duration.ofMillis(500))
                        .until(() -> {
                            assertThat(second.alive()).as(() -> "the restarted server is running (log: " + log + ", exit value "
                                    + (second.alive() ? "none" : Integer.toString(second.exitValue())) + ")").isTrue();
                            try {
                                return client.job(jobId).getState() == JobState.JOB_STATE_COMPLETED;
                            } catch (io.grpc.StatusRuntimeException e) {
                                Process ss = new ProcessBuilder("ss", "-tanp").redirectErrorStream(true).start();
                                throw new IllegalStateException(second.grpcTarget() + " " + new String(ss.getInputStream().readAllBytes()), e);
                            }
                        });
            }
            // a retried Submit after the restart still answers the same job
            SubmitResponse again = client.submit(requests.get(0));
            assertThat(again.getJobId()).isEqualTo(jobIds.get(0));
            assertThat(again.getExisting()).isTrue();

            Map<String, Long> completions = new HashMap<>();
            Map<String, Long> stepCompletions = new HashMap<>();
            for (BusEvent event : committedEvents(second.kafkaBootstrap())) {
                if (event.hasJobCompleted()) {
                    completions.merge(event.getJobId(), 1L, Long::sum);
                }
                if (event.hasStepCompleted()) {
                    stepCompletions.merge(event.getJobId() + "/" + event.getStepCompleted().getStepIndex(), 1L, Long::sum);
                }
            }
            assertThat(completions).containsOnlyKeys(jobIds);
            assertThat(completions.values()).as("job completions per job").containsOnly(1L);
            assertThat(stepCompletions).hasSize(JOBS * 2);
            assertThat(stepCompletions.values()).as("step completions per job and step").containsOnly(1L);
        }
    }

    private static List<BusEvent> committedEvents(String bootstrap) throws Exception {
        Properties properties = new Properties();
        properties.put("bootstrap.servers", bootstrap);
        properties.put("isolation.level", "read_committed");
        properties.put("key.deserializer", StringDeserializer.class.getName());
        properties.put("value.deserializer", ByteArrayDeserializer.class.getName());
        List<BusEvent> events = new ArrayList<>();
        try (KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(properties)) {
            List<TopicPartition> partitions = consumer.partitionsFor("condense.events").stream()
                    .map(info -> new TopicPartition(info.topic(), info.partition())).collect(Collectors.toList());
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            Map<TopicPartition, Long> ends = consumer.endOffsets(partitions);
            long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            while (partitions.stream().anyMatch(partition -> consumer.position(partition) < ends.get(partition))) {
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("could not read the events topic to its end");
                }
                for (ConsumerRecord<String, byte[]> record : consumer.poll(Duration.ofMillis(500))) {
                    events.add(BusEvent.parseFrom(record.value()));
                }
            }
        }
        return events;
    }
}
