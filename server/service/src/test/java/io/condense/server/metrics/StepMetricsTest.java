package io.condense.server.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** Steps and whole jobs can take hours (training): their histograms must tell an hour from half a day. */
class StepMetricsTest {
    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final StepMetrics metrics = new StepMetrics(registry);

    @Test
    void stepDurationBucketsReachHours() {
        metrics.recordStep("finetune", "1.0.0", StepOutcome.SUCCESS, Duration.ofMinutes(90), 100, 50);
        String scrape = registry.scrape();
        // before, the buckets stopped at 30 s and a 90-minute step landed in +Inf only
        assertThat(bucket(scrape, "condense_step_duration_seconds_bucket", "3600.0")).isZero();
        assertThat(bucket(scrape, "condense_step_duration_seconds_bucket", "7200.0")).isEqualTo(1);
    }

    @Test
    void aJobsWholeDurationIsATimerByOutcome() {
        metrics.recordJob(JobOutcome.COMPLETED, Duration.ofSeconds(3));
        metrics.recordJob(JobOutcome.FAILED, Duration.ofHours(2));
        assertThat(registry.get(StepMetrics.JOB_DURATION).tag("outcome", "completed").timer().count()).isEqualTo(1);
        assertThat(registry.get(StepMetrics.JOB_DURATION).tag("outcome", "failed").timer().totalTime(java.util.concurrent.TimeUnit.HOURS))
                .isEqualTo(2.0);
        assertThat(registry.get(StepMetrics.JOBS).tag("outcome", "failed").counter().count()).isEqualTo(1);
        assertThat(registry.scrape()).contains("condense_job_duration_seconds_bucket");
    }

    /** The cumulative count of a bucket whose upper bound is {@code le}, whatever the other tags. */
    private static long bucket(String scrape, String name, String le) {
        for (String line : scrape.split("\n")) {
            if (line.startsWith(name + "{") && line.contains("le=\"" + le + "\"")) {
                return (long) Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
            }
        }
        throw new AssertionError("no bucket le=" + le + " of " + name + " in\n" + scrape);
    }
}
