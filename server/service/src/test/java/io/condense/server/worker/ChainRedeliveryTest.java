package io.condense.server.worker;

import static org.assertj.core.api.Assertions.assertThat;

import io.condense.proto.v1.Job;
import io.condense.proto.v1.JobState;
import io.condense.proto.v1.PipelineStep;
import io.condense.proto.v1.events.JobSpec;
import io.condense.proto.v1.events.JobSubmitted;
import io.condense.proto.v1.events.StepRequested;
import io.condense.server.blob.BlobStore;
import io.condense.server.bus.CommittedEvents;
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
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A restarted worker must not chain a step record that was readable before it got its partition: a worker that died
 * may have been running (and chaining) it, and the attempts it announced may not be readable yet on the events topic
 * (WorkerCrashIT once failed so). Here the step of job "before" is committed before the worker starts and no attempt of
 * it is known, as after such a crash; job "after" is submitted once the worker runs. Both are {@code first | second},
 * two techniques of this worker. Before the fix, both jobs were chained.
 */
class ChainRedeliveryTest {
    private static final Path MNIST = Path.of(System.getProperty("condense.shared.dir", "../../../shared"), "models", "mnist8", "model.onnx");
    private static final Duration LIMIT = Duration.ofSeconds(90);


    @Test
    void aStepReadableBeforeTheAssignmentRunsOnItsOwnAndANewOneIsChained(@TempDir Path folder) throws Exception {
        BlobStore blobs = new BlobStore(folder.resolve("blobs"), 64L << 20);
        String model = blobs.put(Files.readAllBytes(MNIST)).hex();
        JobSpec spec = JobSpec.newBuilder().setModelId(model).addSteps(PipelineStep.newBuilder().setTechnique("first"))
                .addSteps(PipelineStep.newBuilder().setTechnique("second")).setSkipEvaluation(true).build();

        try (EmbeddedKafka kafka = EmbeddedKafka.start(folder.resolve("kafka"));
                KafkaClientBinder binder = new KafkaClientBinder(new SimpleMeterRegistry())) {
            KafkaSettings settings = new KafkaSettings(kafka.bootstrapServers(), 1);
            new TopicAdmin(settings).ensureTopics(Set.of("first", "second"));
            JobView view = new JobView();
            Cancellations cancellations = new Cancellations();
            StepAttempts attempts = new StepAttempts();
            try (KafkaProducer<String, byte[]> api = new KafkaProducer<>(settings.transactionalProducer("test-api"))) {
                api.initTransactions();
                submit(api, "before", spec);
                try (EventsReader events = new EventsReader(settings, "test-events", List.of(cancellations, attempts, view), binder)) {
                    events.start();
                    assertThat(events.awaitCaughtUp(LIMIT)).isTrue();
                    try (Worker worker = new Worker(List.of(TestTechniques.copy("first"), TestTechniques.copy("second")),
                            blobs, cancellations, new StepMetrics(new SimpleMeterRegistry()), settings, "test-worker",
                            folder.resolve("scratch"), 1, binder, attempts, new Submissions(), events, CommittedEvents.NONE)) {
                        worker.start();
                        assertThat(worker.awaitReady(LIMIT)).isTrue();
                        awaitCompleted(view, "before");
                        submit(api, "after", spec);
                        awaitCompleted(view, "after");
                    }
                }
            }
            assertThat(view.job("before").orElseThrow().getStepResultsList()).hasSize(2);
            assertThat(view.job("after").orElseThrow().getStepResultsList()).hasSize(2);
            List<String> handedOver = new ArrayList<>();
            for (ConsumerRecord<String, byte[]> record : records(settings, Topics.steps("second"))) {
                handedOver.add(record.key());
            }
            assertThat(handedOver).as("jobs whose second step went through its step topic instead of being chained")
                    .containsExactly("before");
        }
    }

    /** What Submit writes: the job, its first step. */
    private static void submit(KafkaProducer<String, byte[]> producer, String jobId, JobSpec spec) throws Exception {
        JobSpec stamped = spec.toBuilder().setSubmittedAtMs(System.currentTimeMillis()).build();
        producer.beginTransaction();
        producer.send(Events.record(Events.event(jobId).setJobSubmitted(JobSubmitted.newBuilder().setSpec(stamped)).build())).get();
        StepRequested step = StepRequested.newBuilder().setJobId(jobId).setSpec(stamped).setStepIndex(0).setInputModelId(stamped.getModelId()).build();
        producer.send(new ProducerRecord<>(Topics.steps("first"), jobId, step.toByteArray())).get();
        producer.commitTransaction();
    }

    private static void awaitCompleted(JobView view, String jobId) throws Exception {
        long deadline = System.nanoTime() + LIMIT.toNanos();
        while (view.job(jobId).map(Job::getState).filter(state -> state == JobState.JOB_STATE_COMPLETED).isEmpty()) {
            assertThat(System.nanoTime()).as("job %s completed in time: %s", jobId, view.job(jobId)).isLessThan(deadline);
            Thread.sleep(100);
        }
    }

    /** The committed records of a one-partition topic. */
    private static List<ConsumerRecord<String, byte[]>> records(KafkaSettings settings, String topic) {
        List<ConsumerRecord<String, byte[]>> records = new ArrayList<>();
        try (KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(settings.consumer(null, "test-reader"))) {
            List<TopicPartition> partitions = List.of(new TopicPartition(topic, 0));
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            Map<TopicPartition, Long> ends = consumer.endOffsets(partitions);
            while (consumer.position(partitions.get(0)) < ends.get(partitions.get(0))) {
                consumer.poll(Duration.ofMillis(500)).forEach(records::add);
            }
        }
        return records;
    }
}
