package io.condense.server.channel;

import io.condense.proto.v1.ChannelVersion;
import io.condense.proto.v1.VersionState;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Consumer;

/**
 * The versions of one channel (by channel id) and who watches them. Each watcher has the next version it is owed and
 * receives versions only in order and only once they have an outcome, so a version that ends before an older one waits
 * for it. Every method holds this object's lock; watchers are called under it, so their order is the versions' order.
 */
final class ChannelVersions {
    private final TreeMap<Long, VersionEntry> versions = new TreeMap<>();
    private final Map<ChannelWatcher, Long> watchers = new HashMap<>();
    private boolean closed;

    /** A version acknowledged by a push; nothing when it is known already. */
    synchronized void pushed(VersionEntry entry) {
        versions.putIfAbsent(entry.number(), entry);
    }

    /**
     * The version a job compresses: the entry of its push, given its job, or a new entry; null when the version has a job
     * already (a repeated event).
     */
    synchronized VersionEntry sequenced(VersionEntry entry, String jobId, String weightsModelId) {
        VersionEntry held = versions.putIfAbsent(entry.number(), entry);
        if (held == null) {
            return entry;
        }
        if (held.hasJob()) {
            return null;
        }
        held.attach(jobId, weightsModelId);
        return held;
    }

    /** The highest version number acknowledged; 0 for none. */
    synchronized long newest() {
        return versions.isEmpty() ? 0 : versions.lastKey();
    }

    /** Changes a version and delivers what became deliverable. */
    synchronized void update(VersionEntry entry, Consumer<VersionEntry> change) {
        change.accept(entry);
        deliver();
    }

    synchronized List<ChannelVersion> snapshot() {
        return versions.values().stream().map(VersionEntry::snapshot).toList();
    }

    /** Versions whose job waits to be compressed (not started). */
    synchronized List<VersionEntry> queued() {
        return versions.values().stream().filter(entry -> entry.state() == VersionState.VERSION_STATE_QUEUED && entry.hasJob()).toList();
    }

    /** Versions acknowledged and not started, merged or not. */
    synchronized List<Long> waitingToStart() {
        return versions.values().stream().filter(entry -> entry.state() == VersionState.VERSION_STATE_QUEUED).map(VersionEntry::number).toList();
    }

    /** Versions queued or running. */
    synchronized int waiting() {
        return (int) versions.values().stream().filter(entry -> !entry.isFinal()).count();
    }

    synchronized long latestCompressed() {
        return versions.descendingMap().values().stream().filter(entry -> entry.state() == VersionState.VERSION_STATE_COMPRESSED)
                .mapToLong(VersionEntry::number).findFirst().orElse(0);
    }

    synchronized java.util.Optional<ChannelVersion> version(long number) {
        VersionEntry entry = versions.get(number);
        return entry == null ? java.util.Optional.empty() : java.util.Optional.of(entry.snapshot());
    }

    /** Delivers every version >= from that has an outcome, then keeps the watcher informed; a closed channel finishes it at once. */
    synchronized void watch(ChannelWatcher watcher, long from) {
        if (closed) {
            watcher.finished();
            return;
        }
        watchers.put(watcher, Math.max(from, 1));
        deliver();
    }

    synchronized void unwatch(ChannelWatcher watcher) {
        watchers.remove(watcher);
    }

    /** The channel was deleted: every watcher's stream ends. */
    synchronized void close() {
        closed = true;
        List<ChannelWatcher> ending = new ArrayList<>(watchers.keySet());
        watchers.clear();
        ending.forEach(ChannelWatcher::finished);
    }

    private void deliver() {
        for (Map.Entry<ChannelWatcher, Long> watcher : watchers.entrySet()) {
            long next = watcher.getValue();
            VersionEntry entry;
            while ((entry = versions.get(next)) != null && entry.isFinal()) {
                watcher.getKey().onVersion(entry.snapshot());
                next++;
            }
            watcher.setValue(next);
        }
    }
}
