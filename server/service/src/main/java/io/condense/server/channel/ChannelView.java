package io.condense.server.channel;

import io.condense.proto.v1.Channel;
import io.condense.proto.v1.ChannelVersion;
import io.condense.proto.v1.events.BusEvent;
import io.condense.proto.v1.events.ChannelPush;
import io.condense.proto.v1.events.ChannelState;
import io.condense.proto.v1.events.ChannelVersionRef;
import io.condense.server.bus.EventListener;
import io.condense.server.security.Tenants;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Every channel and version this instance has seen, rebuilt at start from the compacted channels topic (the channels'
 * definitions and newest merged versions), the pushes topic (each acknowledged version, queued until it is merged) and
 * the events topic (each merged version is a job whose spec names its channel version; its events give the version's
 * state). Versions are kept by channel id, so a channel deleted and created again under the same name starts afresh, and
 * records of the three topics may arrive in any order.
 */
public final class ChannelView implements EventListener {
    /** The reason a newer version writes into the cancellation of the versions it supersedes. */
    static final String SUPERSEDED_BY = "superseded by version ";

    private final Map<String, ChannelState> channels = new ConcurrentHashMap<>();
    private final Map<String, ChannelVersions> versions = new ConcurrentHashMap<>();
    private final Map<String, Tracked> byJob = new ConcurrentHashMap<>();
    private final ChannelMetrics metrics;

    private record Tracked(ChannelVersionRef ref, VersionEntry entry, ChannelVersions versions) {
    }

    public ChannelView(MeterRegistry registry) {
        this.metrics = new ChannelMetrics(registry);
    }

    @Override
    public void onChannelState(String name, ChannelState state, boolean live) {
        if (state == null) {
            ChannelState removed = channels.remove(name);
            if (removed != null) {
                versionsOf(removed.getChannelId()).close();
                metrics.forget(name);
            }
            return;
        }
        // a push applies its state at once; the reader delivers it (or an older one) again later: never go back
        channels.merge(name, state, (held, offered) -> held.getChannelId().equals(offered.getChannelId())
                && held.getLatestVersion() > offered.getLatestVersion() ? held : offered);
        metrics.track(name, this, view -> view.waiting(name));
    }

    @Override
    public void onChannelPush(ChannelPush push, boolean live) {
        versionsOf(push.getChannelId()).pushed(VersionEntry.pushed(push));
    }

    @Override
    public void onEvent(BusEvent event, boolean live) {
        String jobId = event.getJobId();
        if (event.hasJobSubmitted()) {
            var spec = event.getJobSubmitted().getSpec();
            if (spec.hasChannelVersion()) {
                ChannelVersionRef ref = spec.getChannelVersion();
                ChannelVersions channelVersions = versionsOf(ref.getChannelId());
                VersionEntry entry = channelVersions.sequenced(new VersionEntry(ref, jobId, spec.getModelId()), jobId, spec.getModelId());
                if (entry != null) {
                    byJob.put(jobId, new Tracked(ref, entry, channelVersions));
                }
            }
            return;
        }
        Tracked tracked = byJob.get(jobId);
        if (tracked == null) {
            return;
        }
        VersionEntry entry = tracked.entry();
        switch (event.getPayloadCase()) {
            case STEP_STARTED -> tracked.versions().update(entry, VersionEntry::running);
            case CANCEL_REQUESTED -> {
                String reason = event.getCancelRequested().getReason();
                if (reason.startsWith(SUPERSEDED_BY)) {
                    tracked.versions().update(entry, version -> version.supersede(reason));
                }
            }
            case JOB_COMPLETED -> finish(tracked, live, version -> version.completed(event.getJobCompleted(),
                    Gate.parse(tracked.ref().getGate()).judge(event.getJobCompleted().getReport()), event.getTimeMs()));
            case JOB_FAILED -> finish(tracked, live, version -> version.failed(event.getJobFailed().getError(), event.getTimeMs()));
            case JOB_CANCELLED -> finish(tracked, live, version -> version.cancelled(event.getJobCancelled().getReason(), event.getTimeMs()));
            default -> {
                // progress and step events do not change a version
            }
        }
    }

    private void finish(Tracked tracked, boolean live, java.util.function.Consumer<VersionEntry> change) {
        VersionEntry entry = tracked.entry();
        tracked.versions().update(entry, change);
        byJob.remove(tracked.entry().snapshot().getJobId());
        if (live) {
            metrics.outcome(tracked.ref().getChannel(), entry.state(), entry.pushedAtMs(), entry.finishedAtMs());
        }
    }

    private ChannelVersions versionsOf(String channelId) {
        return versions.computeIfAbsent(channelId, id -> new ChannelVersions());
    }

    /** The calling tenant's channel of that name. */
    public Optional<ChannelState> state(String name) {
        ChannelState state = channels.get(name);
        return state != null && state.getTenant().equals(Tenants.current()) ? Optional.of(state) : Optional.empty();
    }

    /** The channel of that name whoever owns it (the sequencer works for every tenant). */
    Optional<ChannelState> anyState(String name) {
        return Optional.ofNullable(channels.get(name));
    }

    /** Whether a channel of that id exists. */
    boolean hasChannel(String channelId) {
        return channels.values().stream().anyMatch(state -> state.getChannelId().equals(channelId));
    }

    /** The highest version of a channel acknowledged (merged or not): the next push gets the number after it. */
    long newestVersion(ChannelState state) {
        return Math.max(state.getLatestVersion(), versionsOf(state.getChannelId()).newest());
    }

    /** Versions of a channel acknowledged and not started (merged or not): what a newer push supersedes with latest-wins. */
    List<Long> waitingToStart(String channelId) {
        return versionsOf(channelId).waitingToStart();
    }

    /** Whether any tenant has a channel of that name (names are the keys of the channels topic). */
    boolean exists(String name) {
        return channels.containsKey(name);
    }

    /** A channel as GetChannel answers it (with its versions) or ListChannels (without). */
    public Optional<Channel> channel(String name, boolean withVersions) {
        return state(name).map(state -> describe(state, withVersions));
    }

    /** The calling tenant's channels by name. */
    public List<Channel> channels() {
        return channels.values().stream().filter(state -> state.getTenant().equals(Tenants.current()))
                .sorted(Comparator.comparing(ChannelState::getName)).map(state -> describe(state, false)).toList();
    }

    /** Versions of a channel (by id) whose job waits to be compressed and has not started. */
    List<Long> queued(String channelId) {
        return versionsOf(channelId).queued().stream().map(VersionEntry::number).toList();
    }

    /** The job of each of those versions. */
    List<String> queuedJobs(String channelId) {
        return versionsOf(channelId).queued().stream().map(entry -> entry.snapshot().getJobId()).toList();
    }

    public Optional<ChannelVersion> version(String name, long number) {
        return state(name).flatMap(state -> versionsOf(state.getChannelId()).version(number));
    }

    /** Follows a channel; false when the calling tenant has no channel of that name. */
    public boolean watch(String name, long from, ChannelWatcher watcher) {
        Optional<ChannelState> state = state(name);
        state.ifPresent(found -> versionsOf(found.getChannelId()).watch(watcher, from));
        return state.isPresent();
    }

    public void unwatch(String name, ChannelWatcher watcher) {
        ChannelState state = channels.get(name);
        if (state != null) {
            versionsOf(state.getChannelId()).unwatch(watcher);
        }
    }

    /** Versions of a channel queued or running; 0 for an unknown channel. */
    public int waiting(String name) {
        ChannelState state = channels.get(name);
        return state == null ? 0 : versionsOf(state.getChannelId()).waiting();
    }

    private Channel describe(ChannelState state, boolean withVersions) {
        ChannelVersions channelVersions = versionsOf(state.getChannelId());
        Channel.Builder channel = Channel.newBuilder()
                .setName(state.getName())
                .setChannelId(state.getChannelId())
                .setModelId(state.getModelId())
                .addAllSteps(state.getStepsList())
                .setEvaluationDataId(state.getEvaluationDataId())
                .setEvaluationLabelsId(state.getEvaluationLabelsId())
                .setCalibrationDataId(state.getCalibrationDataId())
                .setGate(state.getGate())
                .setPolicy(state.getPolicy())
                .setCreatedAtMs(state.getCreatedAtMs())
                .setLatestVersion(newestVersion(state))
                .setLatestCompressed(channelVersions.latestCompressed())
                .setWaiting(channelVersions.waiting());
        if (withVersions) {
            channel.addAllVersions(channelVersions.snapshot());
        }
        return channel.build();
    }
}
