package io.condense.server.channel;

import io.condense.proto.v1.VersionState;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.ToDoubleFunction;

/**
 * The channel meters: {@code condense.channel.versions} (counter; tags {@code channel}, {@code outcome}: compressed,
 * rejected, superseded, failed), {@code condense.channel.push.to.compressed} (timer from the push's acknowledgement to the
 * version's outcome, for versions that were compressed; tag {@code channel}) and {@code condense.channel.versions.waiting}
 * (gauge of versions queued or running; tag {@code channel}). Outcomes are counted as this instance sees them happen, not
 * while it reads the history at start.
 */
final class ChannelMetrics {
    private final MeterRegistry registry;
    private final Map<String, Gauge> waiting = new ConcurrentHashMap<>();

    ChannelMetrics(MeterRegistry registry) {
        this.registry = registry;
    }

    /** Registers the waiting gauge of a channel (once per name). */
    void track(String channel, ChannelView view, ToDoubleFunction<ChannelView> waitingVersions) {
        waiting.computeIfAbsent(channel, name -> Gauge.builder("condense.channel.versions.waiting", view, waitingVersions)
                .description("versions of the channel queued or running").tag("channel", name).register(registry));
    }

    void forget(String channel) {
        Gauge gauge = waiting.remove(channel);
        if (gauge != null) {
            registry.remove(gauge);
        }
    }

    void outcome(String channel, VersionState state, long pushedAtMs, long finishedAtMs) {
        String outcome = state.name().substring("VERSION_STATE_".length()).toLowerCase(Locale.ROOT);
        Counter.builder("condense.channel.versions").description("channel versions by outcome").tag("channel", channel)
                .tag("outcome", outcome).register(registry).increment();
        if ((state == VersionState.VERSION_STATE_COMPRESSED || state == VersionState.VERSION_STATE_REJECTED) && finishedAtMs >= pushedAtMs) {
            Timer.builder("condense.channel.push.to.compressed").description("from a push's acknowledgement to its version's outcome")
                    .tag("channel", channel).publishPercentileHistogram().minimumExpectedValue(Duration.ofMillis(5))
                    .maximumExpectedValue(Duration.ofHours(12)).register(registry)
                    .record(Duration.ofMillis(finishedAtMs - pushedAtMs));
        }
    }
}
