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

    private final MeterRegistry registry;
    private final Map<String, MeterRegistry> pluginRegistries = new ConcurrentHashMap<>();

    public StepMetrics(MeterRegistry registry) {
        this.registry = requireNonNull(registry, "registry is null");
    }

    public void recordStep(String technique, String pluginVersion, StepOutcome outcome, Duration duration, long bytesIn, long bytesOut) {
        Tags tags = Tags.of("technique", technique, "plugin.version", pluginVersion, "outcome", outcome.tag());
        Timer.builder(STEP_DURATION).description("Time a technique took to run one step").tags(tags)
                .publishPercentileHistogram().register(registry).record(duration);
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

    public void recordJob(JobOutcome outcome) {
        Counter.builder(JOBS).description("Jobs that ended, by outcome").tag("outcome", outcome.tag()).register(registry).increment();
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
