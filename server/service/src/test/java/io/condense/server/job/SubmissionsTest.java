package io.condense.server.job;

import static org.assertj.core.api.Assertions.assertThat;

import io.condense.proto.v1.PipelineStep;
import io.condense.proto.v1.events.JobSpec;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** A worker waiting for a job's verdict gets it when the events reader records the job, or nothing after its timeout. */
class SubmissionsTest {
    private final Submissions submissions = new Submissions();

    private static JobSpec request(String requestId) {
        return JobSpec.newBuilder().setModelId("m").addSteps(PipelineStep.newBuilder().setTechnique("prune")).setClientRequestId(requestId).build();
    }

    @Test
    void aWaitingWorkerGetsTheVerdictWhenTheReaderRecordsTheJob() throws Exception {
        CompletableFuture<Optional<Submissions.Verdict>> waiting = CompletableFuture.supplyAsync(() -> {
            try {
                return submissions.awaitVerdict("second", Duration.ofSeconds(30));
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
        });
        submissions.record("first", request("r-1"));
        Thread.sleep(50);
        assertThat(waiting).as("another job's record does not answer it").isNotDone();
        submissions.record("second", request("r-1"));
        assertThat(waiting.get(10, TimeUnit.SECONDS)).contains(new Submissions.Verdict(Submissions.Kind.DUPLICATE, "first"));
    }

    @Test
    void anUnreadJobHasNoVerdictAfterTheTimeout() throws Exception {
        long started = System.nanoTime();
        assertThat(submissions.awaitVerdict("unknown", Duration.ofMillis(100))).isEmpty();
        assertThat(System.nanoTime() - started).isGreaterThanOrEqualTo(TimeUnit.MILLISECONDS.toNanos(100));
        submissions.record("known", request("r-2"));
        assertThat(submissions.awaitVerdict("known", Duration.ZERO)).contains(new Submissions.Verdict(Submissions.Kind.FIRST, "known"));
    }
}
