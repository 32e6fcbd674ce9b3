package io.condense.server.blob;

import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.Message;
import io.condense.proto.v1.events.BusEvent;
import io.condense.proto.v1.events.ChannelState;
import io.condense.server.bus.EventListener;
import io.condense.server.job.Submissions;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Which blobs jobs and channels still need, as the events and channels topics tell it: every blob id a queued or
 * running job names (its model, data, uploaded parameters, step outputs) and every blob a channel's state names (base
 * model, data, its newest merged weights) is held; a finished job's blobs (its result and report included) and what a
 * channel let go of are released at that moment, and kept for the retention period after it. What the garbage
 * collection ({@link BlobCollector}) removes is what nothing holds and nothing released within the retention.
 *
 * <p>Blob ids are found by walking every field of the events (any string of 64 lower-case hex digits), so a field added
 * to the events later is covered without a change here.
 */
public final class BlobReferences implements EventListener {
    private static final Pattern BLOB_ID = Pattern.compile("[0-9a-f]{64}");

    private final Clock clock;
    private final Submissions submissions = new Submissions();
    private final Map<String, Set<String>> openJobs = new HashMap<>();
    private final Map<String, Set<String>> channels = new HashMap<>();
    /** How many open jobs and channels hold each blob. */
    private final Map<String, Integer> holders = new HashMap<>();
    /** When the last holder of a blob let go of it (ms). */
    private final Map<String, Long> releasedAtMs = new HashMap<>();

    /** Channel records carry no time: what a channel lets go of is released when this reader sees it, by {@code clock}. */
    public BlobReferences(Clock clock) {
        this.clock = java.util.Objects.requireNonNull(clock, "clock is null");
    }

    public BlobReferences() {
        this(Clock.systemUTC());
    }

    @Override
    public synchronized void onEvent(BusEvent event, boolean live) {
        String jobId = event.getJobId();
        Set<String> ids = blobIds(event);
        if (event.hasJobSubmitted()) {
            if (submissions.record(jobId, event.getJobSubmitted().getSpec()).kind() != Submissions.Kind.FIRST) {
                release(ids, event.getTimeMs()); // a duplicate never runs and never ends
                return;
            }
            hold(openJobs.computeIfAbsent(jobId, id -> new HashSet<>()), ids);
        } else if (event.hasJobCompleted() || event.hasJobFailed() || event.hasJobCancelled()) {
            Set<String> held = openJobs.remove(jobId);
            if (held != null) {
                for (String id : held) {
                    holders.merge(id, -1, (a, b) -> a + b == 0 ? null : a + b);
                }
                release(held, event.getTimeMs());
            }
            release(ids, event.getTimeMs());
        } else if (openJobs.containsKey(jobId)) {
            hold(openJobs.get(jobId), ids);
        } else {
            release(ids, event.getTimeMs());
        }
    }

    @Override
    public synchronized void onChannelState(String name, ChannelState state, boolean live) {
        Set<String> now = state == null ? Set.of() : blobIds(state);
        Set<String> before = channels.getOrDefault(name, Set.of());
        long nowMs = clock.millis();
        for (String id : before) {
            if (!now.contains(id)) {
                holders.merge(id, -1, (a, b) -> a + b == 0 ? null : a + b);
                releasedAtMs.merge(id, nowMs, Math::max);
            }
        }
        if (state == null) {
            channels.remove(name);
            return;
        }
        Set<String> held = new HashSet<>(before);
        held.retainAll(now);
        hold(held, now);
        channels.put(name, held);
    }

    /** Whether a job or a channel holds the blob, or released it less than {@code retention} before {@code now}. */
    public synchronized boolean kept(BlobId id, Instant now, Duration retention) {
        if (holders.containsKey(id.hex())) {
            return true;
        }
        Long released = releasedAtMs.get(id.hex());
        return released != null && released + retention.toMillis() > now.toEpochMilli();
    }

    /** Forgets a blob that was removed. */
    synchronized void forget(BlobId id) {
        releasedAtMs.remove(id.hex());
    }

    private void hold(Set<String> held, Set<String> ids) {
        for (String id : ids) {
            if (held.add(id)) {
                holders.merge(id, 1, Integer::sum);
            }
        }
    }

    private void release(Set<String> ids, long atMs) {
        for (String id : ids) {
            releasedAtMs.merge(id, atMs, Math::max);
        }
    }

    /** Every blob id anywhere in a message. */
    static Set<String> blobIds(Message message) {
        Set<String> ids = new HashSet<>();
        collect(message, ids);
        return ids;
    }

    private static void collect(Message message, Set<String> ids) {
        for (Map.Entry<FieldDescriptor, Object> field : message.getAllFields().entrySet()) {
            List<?> values = field.getKey().isRepeated() ? (List<?>) field.getValue() : List.of(field.getValue());
            for (Object value : values) {
                if (value instanceof Message nested) {
                    collect(nested, ids);
                } else if (value instanceof String text && BLOB_ID.matcher(text).matches()) {
                    ids.add(text);
                }
            }
        }
    }
}
