package io.condense.server.metrics;

import static java.util.Objects.requireNonNull;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.composite.CompositeMeterRegistry;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The host's meters for every technique, tagged {@code technique}, {@code plugin.version} and
 * {@code outcome}, and the jobs by outcome. No tag ever holds a job id or a model name.
 */
public final class StepMetrics {
    public static final String STEP_DURATION = "condense.step.duration";
    public static final String STEPS = "condense.steps";
    public static final String BYTES_IN = "condense.step.bytes.in";
    public static final String BYTES_OUT = "condense.step.bytes.out";
    public static final String COMPRESSION_RATIO = "condense.step.compression.ratio";
    public static final String JOBS = "condense.jobs";
    public static final String JOBS_IN_FLIGHT = "condense.jobs.in.flight";
    public static final String JOB_DURATION = "condense.job.duration";
    public static final String JOBS_QUEUED = "condense.jobs.queued";
    /**
     * Histogram buckets from 5 ms to half a day (a training step or a whole job can take hours), round numbers so
     * dashboards and alerts can name them.
     */
    static final Duration[] BUCKETS = buckets(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200,
            1800, 3600, 7200, 14400, 28800, 43200);

    private static Duration[] buckets(double... seconds) {
        Duration[] buckets = new Duration[seconds.length];
        for (int i = 0; i < seconds.length; i++) {
            buckets[i] = Duration.ofNanos((long) (seconds[i] * 1e9));
        }
        return buckets;
    }

    private final MeterRegistry registry;
    private final Map<String, MeterRegistry> pluginRegistries = new ConcurrentHashMap<>();

    public StepMetrics(MeterRegistry registry) {
        this.registry = requireNonNull(registry, "registry is null");
    }

    public void recordStep(String technique, String pluginVersion, StepOutcome outcome, Duration duration, long bytesIn, long bytesOut) {
        Tags tags = Tags.of("technique", technique, "plugin.version", pluginVersion, "outcome", outcome.tag());
        Timer.builder(STEP_DURATION).description("Time a technique took to run one step").tags(tags)
                .serviceLevelObjectives(BUCKETS).register(registry).record(duration);
        Counter.builder(STEPS).description("Steps run, by technique and outcome").tags(tags).register(registry).increment();
        DistributionSummary.builder(BYTES_IN).description("Size of the model a step received").baseUnit("bytes").tags(tags)
                .register(registry).record(bytesIn);
        if (outcome == StepOutcome.SUCCESS) {
            DistributionSummary.builder(BYTES_OUT).description("Size of the model a step produced").baseUnit("bytes").tags(tags)
                    .register(registry).record(bytesOut);
            if (bytesOut > 0) {
                DistributionSummary.builder(COMPRESSION_RATIO).description("Bytes in divided by bytes out of a step").tags(tags)
                        .register(registry).record((double) bytesIn / bytesOut);
            }
        }
    }

    /**
     * A job ended (recorded once, by the worker that wrote its end): counted by outcome, and its whole duration from
     * the Submit to its end, queueing included.
     */
    public void recordJob(JobOutcome outcome, Duration sinceSubmitted) {
        Counter.builder(JOBS).description("Jobs that ended, by outcome").tag("outcome", outcome.tag()).register(registry).increment();
        Timer.builder(JOB_DURATION).description("Time from a job's Submit to its end, by outcome").tag("outcome", outcome.tag())
                .serviceLevelObjectives(BUCKETS).register(registry)
                .record(sinceSubmitted.isNegative() ? Duration.ZERO : sinceSubmitted);
    }

    /**
     * The registry a technique sees: every meter it registers lands in the host's registry with the
     * {@code technique} and {@code plugin.version} tags already set.
     */
    public MeterRegistry registryFor(String technique, String pluginVersion) {
        return pluginRegistries.computeIfAbsent(technique + "\u0000" + pluginVersion, key -> {
            CompositeMeterRegistry composite = new CompositeMeterRegistry();
            composite.config().commonTags("technique", technique, "plugin.version", pluginVersion);
            composite.add(registry);
            return composite;
        });
    }

    public MeterRegistry registry() {
        return registry;
    }
}
