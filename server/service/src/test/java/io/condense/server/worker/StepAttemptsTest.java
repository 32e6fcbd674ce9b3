package io.condense.server.worker;

import static org.assertj.core.api.Assertions.assertThat;

import io.condense.proto.v1.events.BusEvent;
import io.condense.proto.v1.events.JobFailed;
import io.condense.proto.v1.events.StepCompleted;
import io.condense.proto.v1.events.StepFailed;
import io.condense.proto.v1.events.StepStarted;
import org.junit.jupiter.api.Test;

/** Attempts that began (StepStarted) and never ended (no retry, no outcome) are the ones whose worker died. */
class StepAttemptsTest {
    private final StepAttempts attempts = new StepAttempts();

    private void started(String job, int step, String worker) {
        attempts.onEvent(BusEvent.newBuilder().setJobId(job).setStepStarted(StepStarted.newBuilder().setStepIndex(step).setWorker(worker))
                .build(), true);
    }

    private void retried(String job, int step) {
        attempts.onEvent(BusEvent.newBuilder().setJobId(job).setStepFailed(StepFailed.newBuilder().setStepIndex(step).setWillRetry(true))
                .build(), true);
    }

    @Test
    void attemptsCutOffByADeadWorkerAreCounted() {
        assertThat(attempts.history("job", 0).cutOff()).isZero();
        started("job", 0, "a-1");
        // the attempt running now is not counted as dead by anyone asking before it ends: the caller is the next delivery
        assertThat(attempts.history("job", 0).cutOff()).isEqualTo(1);
        started("job", 0, "b-1");
        assertThat(attempts.history("job", 0)).isEqualTo(new StepAttempts.History(2, java.util.List.of("a-1", "b-1")));
        assertThat(attempts.history("job", 1).cutOff()).isZero();
        assertThat(attempts.history("other", 0).cutOff()).isZero();
    }

    @Test
    void retriesInsideAWorkerAreNotCrashes() {
        started("job", 0, "a-1");
        retried("job", 0);
        started("job", 0, "a-1");
        retried("job", 0);
        started("job", 0, "a-1");
        assertThat(attempts.history("job", 0).cutOff()).isEqualTo(1);
    }

    @Test
    void aCompletedStepOrAnEndedJobIsForgotten() {
        started("job", 0, "a-1");
        started("job", 0, "b-1");
        attempts.onEvent(BusEvent.newBuilder().setJobId("job").setStepCompleted(StepCompleted.newBuilder().setStepIndex(0)).build(), true);
        assertThat(attempts.history("job", 0).cutOff()).isZero();
        started("job", 1, "a-1");
        attempts.onEvent(BusEvent.newBuilder().setJobId("job").setJobFailed(JobFailed.getDefaultInstance()).build(), true);
        assertThat(attempts.history("job", 1).cutOff()).isZero();
    }

    @Test
    void aCrashInAChainedStepIsBlamedOnThatStepAlone() {
        // a worker ran step 1 and chained step 2 without a commit between them, then died in step 2
        started("job", 0, "a");
        started("job", 1, "a");
        assertThat(attempts.history("job", 0).cutOff()).as("step 1 ran to its end before step 2 started").isZero();
        assertThat(attempts.history("job", 1).cutOff()).isEqualTo(1);
        // the rerun of step 1 on its own dies too: that one counts
        started("job", 0, "b");
        assertThat(attempts.history("job", 0)).isEqualTo(new StepAttempts.History(1, java.util.List.of("a", "b")));
    }

    @Test
    void aStepStartedByAnotherWorkerEndsNoAttemptOfTheStepBefore() {
        started("job", 0, "a");
        started("job", 1, "b");
        assertThat(attempts.history("job", 0).cutOff()).isEqualTo(1);
    }
}
