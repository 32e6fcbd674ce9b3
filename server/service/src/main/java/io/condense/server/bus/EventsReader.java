package io.condense.server.bus;

import static java.util.Objects.requireNonNull;

import com.google.protobuf.InvalidProtocolBufferException;
import io.condense.proto.v1.events.BusEvent;
import io.condense.proto.v1.events.ChannelPush;
import io.condense.proto.v1.events.ChannelState;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads the whole events topic, the compacted channels topic and the channel pushes topic from the beginning (committed records only, no consumer
 * group) and hands every event and channel state to the listeners; {@link #awaitCaughtUp} tells when the history written before the start
 * has been read, so views built from it are complete.
 */
public final class EventsReader implements EventsSync, AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(EventsReader.class);

    private final KafkaConsumer<String, byte[]> offsets;
    private final KafkaConsumer<String, byte[]> consumer;
    private final List<EventListener> listeners;
    private final CountDownLatch caughtUp = new CountDownLatch(1);
    private final Thread thread;
    private final Queue<SyncRequest> syncRequests = new ConcurrentLinkedQueue<>();
    private volatile boolean running = true;
    /** Set once the initial assignment is done: from then on a wakeup only cuts a poll short. */
    private volatile boolean looping;

    public EventsReader(KafkaSettings settings, String clientId, List<EventListener> listeners, io.condense.server.metrics.KafkaClientBinder binder) {
        requireNonNull(settings, "settings is null");
        this.listeners = List.copyOf(requireNonNull(listeners, "listeners is null"));
        this.consumer = new KafkaConsumer<>(settings.consumer(null, clientId));
        // end offsets come on a connection of their own: on the reader's, a ListOffsets request waits behind the fetch the
        // broker holds open (fetch.max.wait.ms, 500 ms), which every Submit with a client_request_id would wait out
        this.offsets = new KafkaConsumer<>(settings.consumer(null, clientId + "-offsets"));
        binder.bind(consumer);
        this.thread = new Thread(this::run, "condense-events-reader");
        this.thread.setDaemon(true);
    }

    public void start() {
        thread.start();
    }

    public boolean awaitCaughtUp(Duration timeout) throws InterruptedException {
        return caughtUp.await(timeout.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** Why the reader stopped by itself (the views built from it no longer follow the topic); empty while it reads. */
    public java.util.Optional<String> problem() {
        if (running && thread.getState() == Thread.State.TERMINATED) {
            return java.util.Optional.of("the events reader stopped: the job and channel views no longer follow " + Topics.EVENTS + " and " + Topics.CHANNELS);
        }
        return java.util.Optional.empty();
    }

    /** True once the history written before the start has been read. */
    public boolean isCaughtUp() {
        return caughtUp.getCount() == 0;
    }

    /** A caller waiting for the records committed to some topics before its call. */
    private record SyncRequest(CompletableFuture<Void> reached, java.util.Set<String> topics) {
    }

    /** Completes once the records committed to {@code topics} before this call have been handed to the listeners. */
    @Override
    public CompletableFuture<Void> latest(java.util.Collection<String> topics) {
        CompletableFuture<Void> reached = new CompletableFuture<>();
        syncRequests.add(new SyncRequest(reached, java.util.Set.copyOf(topics)));
        if (looping) {
            consumer.wakeup();
        }
        return reached;
    }

    private void run() {
        try {
            List<TopicPartition> partitions = new ArrayList<>();
            for (String topic : List.of(Topics.EVENTS, Topics.CHANNELS, Topics.PUSHES)) {
                consumer.partitionsFor(topic, Duration.ofSeconds(60)).forEach(info -> partitions.add(new TopicPartition(info.topic(), info.partition())));
            }
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            Map<TopicPartition, Long> startEnds = new HashMap<>(consumer.endOffsets(partitions));
            boolean live = false;
            // sync requests and the committed end offsets (last stable offsets) taken when they were seen
            List<Map.Entry<CompletableFuture<Void>, Map<TopicPartition, Long>>> syncs = new ArrayList<>();
            looping = true;
            while (running) {
                try {
                    if (!syncRequests.isEmpty()) {
                        Map<TopicPartition, Long> ends = Map.copyOf(offsets.endOffsets(partitions));
                        SyncRequest request;
                        while ((request = syncRequests.poll()) != null) {
                            Map<TopicPartition, Long> target = new HashMap<>();
                            for (Map.Entry<TopicPartition, Long> end : ends.entrySet()) {
                                if (request.topics().contains(end.getKey().topic())) {
                                    target.put(end.getKey(), end.getValue());
                                }
                            }
                            syncs.add(Map.entry(request.reached(), target));
                        }
                        // usually everything committed is read already: answer without waiting for a poll
                        completeReached(syncs);
                    }
                    var records = consumer.poll(Duration.ofMillis(syncs.isEmpty() ? 200 : 20));
                    for (ConsumerRecord<String, byte[]> record : records) {
                        dispatch(record, live);
                    }
                    completeReached(syncs);
                    if (!live) {
                        live = true;
                        for (TopicPartition partition : partitions) {
                            if (consumer.position(partition) < startEnds.get(partition)) {
                                live = false;
                            }
                        }
                        if (live) {
                            caughtUp.countDown();
                        }
                    }
                } catch (WakeupException e) {
                    if (!running) {
                        break;
                    }
                    // a sync request cut a call short: serve it on the next turn
                } catch (org.apache.kafka.common.errors.TimeoutException e) {
                    // the broker is away (restarting, say): the clients reconnect by themselves, so read on when it is back
                    // (the health monitor says NOT_SERVING meanwhile); stopping here would end the process for good
                    log.warn("The events topic cannot be read for now: {}", e.toString());
                }
            }
        } catch (WakeupException e) {
            if (running) {
                log.error("Events reader woken up unexpectedly", e);
            }
        } catch (RuntimeException e) {
            log.error("Events reader stopped: {}", e.toString(), e);
        } finally {
            consumer.close(Duration.ofSeconds(5));
            offsets.close(Duration.ofSeconds(5));
        }
    }

    /** Completes and drops the sync requests whose end offsets this reader's position has reached. */
    private void completeReached(List<Map.Entry<CompletableFuture<Void>, Map<TopicPartition, Long>>> syncs) {
        syncs.removeIf(sync -> {
            for (Map.Entry<TopicPartition, Long> end : sync.getValue().entrySet()) {
                if (consumer.position(end.getKey()) < end.getValue()) {
                    return false;
                }
            }
            sync.getKey().complete(null);
            return true;
        });
    }

    private void dispatch(ConsumerRecord<String, byte[]> record, boolean live) {
        if (record.topic().equals(Topics.CHANNELS)) {
            dispatchChannel(record, live);
            return;
        }
        if (record.topic().equals(Topics.PUSHES)) {
            dispatchPush(record, live);
            return;
        }
        BusEvent event;
        try {
            event = BusEvent.parseFrom(record.value());
        } catch (InvalidProtocolBufferException e) {
            log.error("Skipping an unreadable event at {}-{} offset {}: {}", record.topic(), record.partition(), record.offset(), e.getMessage());
            return;
        }
        tell(listener -> listener.onEvent(event, live), "an event of job " + event.getJobId());
    }

    private void dispatchChannel(ConsumerRecord<String, byte[]> record, boolean live) {
        ChannelState state;
        try {
            state = record.value() == null ? null : ChannelState.parseFrom(record.value());
        } catch (InvalidProtocolBufferException e) {
            log.error("Skipping an unreadable channel state at {}-{} offset {}: {}", record.topic(), record.partition(), record.offset(), e.getMessage());
            return;
        }
        tell(listener -> listener.onChannelState(record.key(), state, live), "the state of channel " + record.key());
    }

    private void dispatchPush(ConsumerRecord<String, byte[]> record, boolean live) {
        ChannelPush push;
        try {
            push = ChannelPush.parseFrom(record.value() == null ? new byte[0] : record.value());
        } catch (InvalidProtocolBufferException e) {
            log.error("Skipping an unreadable push at {}-{} offset {}: {}", record.topic(), record.partition(), record.offset(), e.getMessage());
            return;
        }
        tell(listener -> listener.onChannelPush(push, live), "a push to channel " + push.getChannel());
    }

    /** Hands a record to every listener; one that fails is logged and the others still get it. */
    private void tell(java.util.function.Consumer<EventListener> call, String what) {
        for (EventListener listener : listeners) {
            try {
                call.accept(listener);
            } catch (RuntimeException e) {
                log.error("Event listener {} failed on {}", listener.getClass().getSimpleName(), what, e);
            }
        }
    }

    @Override
    public void close() throws InterruptedException {
        running = false;
        consumer.wakeup();
        thread.join(10_000);
    }
}
