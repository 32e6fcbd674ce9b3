package io.condense.server.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.condense.proto.v1.events.BusEvent;
import io.condense.proto.v1.events.CancelRequested;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.server.bus.EmbeddedKafka;
import io.condense.server.bus.Events;
import io.condense.server.bus.KafkaOptions;
import io.condense.server.bus.KafkaSettings;
import io.condense.server.bus.TopicAdmin;
import io.condense.server.bus.Topics;
import io.condense.server.metrics.KafkaClientBinder;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The API's transactional writer while the broker restarts: every Submit meanwhile is UNAVAILABLE (a client retries
 * it), and the writer works again once the broker is back. Before, a commit that timed out was followed by an abort,
 * which Kafka refuses after a commit timeout: Submit failed with an IllegalStateException (INTERNAL, which clients do
 * not retry) until the stuck commit finished by itself.
 */
class SubmitPublisherTest {

    @Test
    void aBrokerRestartIsUnavailableMeanwhileAndTheWriterRecovers(@TempDir Path folder) throws Exception {
        int port;
        try (ServerSocket socket = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            port = socket.getLocalPort();
        }
        EmbeddedKafka kafka = EmbeddedKafka.start(folder.resolve("kafka"), port);
        KafkaSettings defaults = new KafkaSettings(kafka.bootstrapServers(), 1);
        // a commit waits 5 s for the broker, not the default minute
        KafkaSettings settings = new KafkaSettings(kafka.bootstrapServers(), 1, new KafkaOptions(Map.of("max.block.ms", "5000"), 0, 0));
        try (KafkaClientBinder binder = new KafkaClientBinder(new SimpleMeterRegistry())) {
            new TopicAdmin(defaults).ensureTopics(Set.of());
            // the broker's transaction coordinator starts on first use, which may take longer than 5 s on a busy machine
            new SubmitPublisher(defaults, "warm-up", binder).close();
            try (SubmitPublisher publisher = new SubmitPublisher(settings, "test", binder)) {
                publisher.publish(event("before"));

                kafka.close();
                for (int i = 0; i < 2; i++) {
                    assertThatThrownBy(() -> publisher.publish(event("while-away")))
                            .isInstanceOfSatisfying(CondenseException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.UNAVAILABLE));
                }

                kafka = EmbeddedKafka.start(folder.resolve("kafka"), port);
                long deadline = System.nanoTime() + Duration.ofSeconds(120).toNanos();
                while (true) {
                    try {
                        publisher.publish(event("after"));
                        break;
                    } catch (CondenseException e) {
                        assertThat(e.code()).isEqualTo(ErrorCode.UNAVAILABLE);
                        assertThat(System.nanoTime()).as("written again once the broker is back").isLessThan(deadline);
                    }
                }
                assertThat(publisher.problem()).isEmpty();
            }
            List<String> committed = committedJobIds(settings);
            assertThat(committed).startsWith("before").endsWith("after");
            assertThat(committed).as("each write committed at most once").doesNotHaveDuplicates();
        } finally {
            kafka.close();
        }
    }

    private static List<String> committedJobIds(KafkaSettings settings) {
        List<String> ids = new ArrayList<>();
        try (KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(settings.consumer(null, "test-reader"))) {
            TopicPartition partition = new TopicPartition(Topics.EVENTS, 0);
            consumer.assign(List.of(partition));
            consumer.seekToBeginning(List.of(partition));
            long end = consumer.endOffsets(List.of(partition)).get(partition);
            while (consumer.position(partition) < end) {
                for (ConsumerRecord<String, byte[]> record : consumer.poll(Duration.ofMillis(500))) {
                    ids.add(record.key());
                }
            }
        }
        return ids;
    }

    private static BusEvent event(String jobId) {
        return Events.event(jobId).setCancelRequested(CancelRequested.getDefaultInstance()).build();
    }
}
