package io.condense.server.worker;

import static org.assertj.core.api.Assertions.assertThat;

import io.condense.proto.v1.Job;
import io.condense.proto.v1.JobState;
import io.condense.proto.v1.PipelineStep;
import io.condense.proto.v1.events.BusEvent;
import io.condense.proto.v1.events.JobSpec;
import io.condense.proto.v1.events.JobSubmitted;
import io.condense.proto.v1.events.StepRequested;
import io.condense.server.blob.BlobStore;
import io.condense.server.bus.EmbeddedKafka;
import io.condense.server.bus.Events;
import io.condense.server.bus.EventsReader;
import io.condense.server.bus.KafkaSettings;
import io.condense.server.bus.TopicAdmin;
import io.condense.server.bus.Topics;
import io.condense.server.job.JobView;
import io.condense.server.job.Submissions;
import io.condense.server.metrics.KafkaClientBinder;
import io.condense.server.metrics.StepMetrics;
import io.condense.server.plugin.TestTechniques;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The duplicate ChaosIT found: a Submit whose commit timed out while the broker was away is retried with the same
 * client_request_id at another API instance, whose dedupe cannot see the first transaction (still open), so both
 * commit and one request id has two jobs. Here two "API instances" write the two jobs exactly so (the first
 * transaction still open while the second commits); a worker and a job view read them. Before, both jobs ran.
 */
class DuplicateSubmissionTest {
    private static final Path MNIST = Path.of(System.getProperty("condense.shared.dir", "../../../shared"), "models", "mnist8", "model.onnx");
    private static final Duration LIMIT = Duration.ofSeconds(90);


    @Test
    void oneRequestIdRunsOneJobAndEveryIdItWasAnsweredWithAnswersAsThatJob(@TempDir Path folder) throws Exception {
        BlobStore blobs = new BlobStore(folder.resolve("blobs"), 64L << 20);
        String model = blobs.put(Files.readAllBytes(MNIST)).hex();
        JobSpec request = JobSpec.newBuilder().setModelId(model).addSteps(PipelineStep.newBuilder().setTechnique("copy"))
                .setSkipEvaluation(true).setClientRequestId("nightly-1").setTenant("team-a").build();
        JobSpec otherRequest = request.toBuilder().setSkipEvaluation(false).build();
        JobSpec noRequestId = request.toBuilder().clearClientRequestId().build();

        try (EmbeddedKafka kafka = EmbeddedKafka.start(folder.resolve("kafka"));
                KafkaClientBinder binder = new KafkaClientBinder(new SimpleMeterRegistry())) {
            KafkaSettings settings = new KafkaSettings(kafka.bootstrapServers(), 2);
            new TopicAdmin(settings).ensureTopics(Set.of("copy"));
            JobView view = new JobView();
            Submissions submissions = new Submissions();
            Cancellations cancellations = new Cancellations();
            StepAttempts attempts = new StepAttempts();
            try (EventsReader events = new EventsReader(settings, "test-events", List.of(cancellations, attempts, submissions, view), binder);
                    KafkaProducer<String, byte[]> apiA = apiProducer(settings, "api-a");
                    KafkaProducer<String, byte[]> apiB = apiProducer(settings, "api-b")) {
                events.start();
                assertThat(events.awaitCaughtUp(LIMIT)).isTrue();
                try (Worker worker = new Worker(List.of(TestTechniques.copy("copy")), blobs, cancellations,
                        new StepMetrics(new SimpleMeterRegistry()), settings, "test-worker", folder.resolve("scratch"), 1, binder, attempts,
                        submissions, events, io.condense.server.bus.CommittedEvents.NONE)) {
                    worker.start();
                    assertThat(worker.awaitReady(LIMIT)).isTrue();

                    // API A writes the first job; its commit "times out": the transaction stays open
                    apiA.beginTransaction();
                    write(apiA, "first", request, 0);
                    // the client retries at API B, which cannot see the first job and writes a second one, and commits
                    apiB.beginTransaction();
                    write(apiB, "retry", request, 1);
                    apiB.commitTransaction();
                    // the same request id with another request, and a job without a request id
                    apiB.beginTransaction();
                    write(apiB, "reused", otherRequest, 1);
                    write(apiB, "plain", noRequestId, 1);
                    apiB.commitTransaction();
                    view.accept("retry", request, 0);
                    assertThat(asTeamA(() -> view.job("retry"))).as("answered at once by the instance that wrote it").isPresent();

                    Thread.sleep(1000);
                    // the broker is back: A's commit goes through
                    apiA.commitTransaction();

                    awaitEnded(view, "first", "plain");
                    awaitConsumed(settings);
                }
            }
            Job first = asTeamA(() -> view.job("first")).orElseThrow();
            assertThat(first.getState()).isEqualTo(JobState.JOB_STATE_COMPLETED);
            assertThat(asTeamA(() -> view.job("retry"))).as("the retry's id answers as the first job").contains(first);
            Job reused = asTeamA(() -> view.job("reused")).orElseThrow();
            assertThat(reused.getState()).isEqualTo(JobState.JOB_STATE_FAILED);
            assertThat(reused.getError().getCode()).isEqualTo("ALREADY_EXISTS");
            assertThat(reused.getError().getMessage()).contains("nightly-1", "first");
            assertThat(asTeamA(() -> view.jobForClientRequest("nightly-1")).orElseThrow().jobId()).isEqualTo("first");
            assertThat(asTeamA(() -> view.recent(10, JobState.JOB_STATE_UNSPECIFIED))).extracting(Job::getJobId)
                    .containsExactlyInAnyOrder("first", "reused", "plain");

            List<BusEvent> written = events(settings);
            assertThat(written.stream().filter(BusEvent::hasStepStarted).map(BusEvent::getJobId))
                    .as("steps run").containsExactlyInAnyOrder("first", "plain");
            assertThat(written.stream().filter(BusEvent::hasJobCompleted).map(BusEvent::getJobId))
                    .as("jobs completed").containsExactlyInAnyOrder("first", "plain");
        }
    }

    private static KafkaProducer<String, byte[]> apiProducer(KafkaSettings settings, String id) {
        KafkaProducer<String, byte[]> producer = new KafkaProducer<>(settings.transactionalProducer(id));
        producer.initTransactions();
        return producer;
    }

    /** What Submit writes, the step on the given partition of the step topic. */
    private static void write(KafkaProducer<String, byte[]> producer, String jobId, JobSpec spec, int stepPartition) throws Exception {
        JobSpec stamped = spec.toBuilder().setSubmittedAtMs(System.currentTimeMillis()).build();
        producer.send(Events.record(Events.event(jobId).setJobSubmitted(JobSubmitted.newBuilder().setSpec(stamped)).build())).get();
        StepRequested step = StepRequested.newBuilder().setJobId(jobId).setSpec(stamped).setStepIndex(0).setInputModelId(stamped.getModelId()).build();
        producer.send(new ProducerRecord<>(Topics.steps("copy"), stepPartition, jobId, step.toByteArray())).get();
    }

    private static <T> T asTeamA(java.util.concurrent.Callable<T> call) throws Exception {
        return io.grpc.Context.current().withValue(io.condense.server.security.Tenants.TENANT, "team-a").call(call);
    }

    private static void awaitEnded(JobView view, String... jobIds) throws Exception {
        long deadline = System.nanoTime() + LIMIT.toNanos();
        for (String jobId : jobIds) {
            while (asTeamA(() -> view.job(jobId)).map(Job::getState).filter(state -> state == JobState.JOB_STATE_COMPLETED).isEmpty()) {
                assertThat(System.nanoTime()).as("job %s completed in time", jobId).isLessThan(deadline);
                Thread.sleep(100);
            }
        }
    }

    /** Until the worker has consumed every step record, the skipped ones included. */
    private static void awaitConsumed(KafkaSettings settings) throws Exception {
        long deadline = System.nanoTime() + LIMIT.toNanos();
        Map<TopicPartition, Long> ends = new java.util.HashMap<>();
        for (ConsumerRecord<String, byte[]> record : records(settings, Topics.steps("copy"), 2)) {
            ends.merge(new TopicPartition(record.topic(), record.partition()), record.offset() + 1, Math::max);
        }
        try (Admin admin = Admin.create(settings.admin())) {
            while (true) {
                Map<TopicPartition, OffsetAndMetadata> committed = admin.listConsumerGroupOffsets("condense-workers-copy")
                        .partitionsToOffsetAndMetadata().get(30, TimeUnit.SECONDS);
                if (ends.entrySet().stream().allMatch(end -> committed.get(end.getKey()) != null && committed.get(end.getKey()).offset() >= end.getValue())) {
                    return;
                }
                assertThat(System.nanoTime()).as("every step record consumed in time: %s of %s", committed, ends).isLessThan(deadline);
                Thread.sleep(100);
            }
        }
    }

    private static List<BusEvent> events(KafkaSettings settings) throws Exception {
        List<BusEvent> events = new ArrayList<>();
        for (ConsumerRecord<String, byte[]> record : records(settings, Topics.EVENTS, 1)) {
            events.add(BusEvent.parseFrom(record.value()));
        }
        return events;
    }

    /** The committed records of a topic. */
    private static List<ConsumerRecord<String, byte[]>> records(KafkaSettings settings, String topic, int partitionCount) {
        List<ConsumerRecord<String, byte[]>> records = new ArrayList<>();
        try (KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(settings.consumer(null, "test-reader"))) {
            List<TopicPartition> partitions = new ArrayList<>();
            for (int i = 0; i < partitionCount; i++) {
                partitions.add(new TopicPartition(topic, i));
            }
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            Map<TopicPartition, Long> ends = consumer.endOffsets(partitions);
            while (partitions.stream().anyMatch(p -> consumer.position(p) < ends.get(p))) {
                consumer.poll(Duration.ofMillis(500)).forEach(records::add);
            }
        }
        return records;
    }
}
