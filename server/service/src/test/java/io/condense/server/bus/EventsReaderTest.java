package io.condense.server.bus;

import static org.assertj.core.api.Assertions.assertThat;

import io.condense.proto.v1.events.BusEvent;
import io.condense.proto.v1.events.CancelRequested;
import io.condense.server.metrics.KafkaClientBinder;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link EventsReader#awaitLatest}: what another process committed to the events topic before the call is
 * in the view when it returns (the API instance relies on it before answering that a job is unknown), and
 * the wakeups that cut a poll short do not stop the reader.
 */
class EventsReaderTest {

    @Test
    void awaitLatestReturnsOnlyOnceWhatWasCommittedBeforeTheCallHasBeenRead(@TempDir Path folder) throws Exception {
        try (EmbeddedKafka kafka = EmbeddedKafka.start(folder.resolve("kafka"));
                KafkaClientBinder binder = new KafkaClientBinder(new SimpleMeterRegistry())) {
            KafkaSettings settings = new KafkaSettings(kafka.bootstrapServers(), 1);
            new TopicAdmin(settings).ensureTopics(Set.of());
            List<String> seen = new CopyOnWriteArrayList<>();
            List<String> channels = new CopyOnWriteArrayList<>();
            EventListener listener = new EventListener() {
                @Override
                public void onEvent(BusEvent event, boolean live) {
                    seen.add(event.getJobId());
                }

                @Override
                public void onChannelState(String name, io.condense.proto.v1.events.ChannelState state, boolean live) {
                    channels.add(name);
                }
            };
            try (EventsReader reader = new EventsReader(settings, "test-events", List.of(listener), binder);
                    KafkaProducer<String, byte[]> producer = new KafkaProducer<>(settings.plainProducer("test-writer"))) {
                reader.start();
                assertThat(reader.awaitCaughtUp(Duration.ofSeconds(60))).isTrue();
                assertThat(reader.awaitLatest(Duration.ofSeconds(10))).as("nothing to read").isTrue();

                for (int i = 0; i < 5; i++) {
                    String jobId = "job-" + i;
                    // written by "another process" and acknowledged, then asked for at once
                    producer.send(Events.record(event(jobId))).get();
                    assertThat(reader.awaitLatest(Duration.ofSeconds(10))).isTrue();
                    assertThat(seen).as("read before awaitLatest returned").contains(jobId);
                }
                assertThat(seen).containsExactly("job-0", "job-1", "job-2", "job-3", "job-4");

                // a wait for the channels topic alone (a push) returns once that topic's records are read
                producer.send(Events.channelRecord("fresh", io.condense.proto.v1.events.ChannelState.newBuilder().setName("fresh").build())).get();
                assertThat(EventsSync.await(reader.latest(List.of(Topics.CHANNELS)), Duration.ofSeconds(10))).isTrue();
                assertThat(channels).as("read before the channels topic's wait returned").contains("fresh");
            }
        }
    }

    private static BusEvent event(String jobId) {
        return Events.event(jobId).setCancelRequested(CancelRequested.getDefaultInstance()).build();
    }
}
