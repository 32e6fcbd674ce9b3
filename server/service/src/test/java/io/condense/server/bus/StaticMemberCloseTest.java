package io.condense.server.bus;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link KafkaSettings#closeLeavingGroup}: a step consumer (a static group member) closed so leaves its group, so the next
 * process on the same cluster gets its partitions at once; closed as Kafka closes static members by default it stays a
 * member until its session expires (the first job after a restart of {@code serve} waited 10 to 15 s for it).
 */
class StaticMemberCloseTest {

    @Test
    void aStepConsumerClosedLeavingItsGroupIsNoLongerAMemberWhileAPlainCloseStays(@TempDir Path folder) throws Exception {
        try (EmbeddedKafka kafka = EmbeddedKafka.start(folder.resolve("kafka"))) {
            KafkaSettings settings = new KafkaSettings(kafka.bootstrapServers(), 1);
            new TopicAdmin(settings).ensureTopics(Set.of("quantize"));
            String topic = Topics.steps("quantize");
            try (Admin admin = Admin.create(settings.admin())) {
                KafkaConsumer<String, byte[]> stays = joined(settings, "group-stays", topic, "member-a");
                stays.close(Duration.ofSeconds(5));
                assertThat(members(admin, "group-stays")).isEqualTo(1);

                KafkaConsumer<String, byte[]> leaves = joined(settings, "group-leaves", topic, "member-b");
                KafkaSettings.closeLeavingGroup(leaves, Duration.ofSeconds(5));
                assertThat(members(admin, "group-leaves")).isZero();
            }
        }
    }

    /** A step consumer of the group that has its partition (polled until the group assigned it). */
    private static KafkaConsumer<String, byte[]> joined(KafkaSettings settings, String group, String topic, String instance) {
        KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(settings.stepConsumer(group, instance + "-consumer", instance));
        consumer.subscribe(List.of(topic));
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (consumer.assignment().isEmpty() && System.nanoTime() < deadline) {
            consumer.poll(Duration.ofMillis(200));
        }
        assertThat(consumer.assignment()).as("partitions assigned to " + instance).isNotEmpty();
        return consumer;
    }

    private static int members(Admin admin, String group) throws Exception {
        ConsumerGroupDescription description = admin.describeConsumerGroups(List.of(group)).describedGroups().get(group).get();
        return description.members().size();
    }
}
