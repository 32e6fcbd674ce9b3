package io.condense.server.worker;

import static java.util.Objects.requireNonNull;

import io.condense.proto.v1.events.StepRequested;
import io.condense.server.bus.EventsSync;
import io.condense.server.job.Submissions;
import java.time.Duration;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Whether a step consumer runs a step: a job submitted with a client request id runs only when it is the first job of
 * that id on the events topic ({@link Submissions}); a later duplicate (a Submit retried while the first attempt's
 * transaction was still open) is consumed without running, so one request id never runs twice.
 *
 * <p>A step is readable once its job's transaction committed, but its {@code JobSubmitted} on the events topic may not be
 * yet (an earlier transaction still open there holds back every later record): such a step waits.
 */
final class JobIntake {
    private static final Logger log = LoggerFactory.getLogger(JobIntake.class);
    /**
     * The longest a transaction can stay open (the broker's {@code transaction.max.timeout.ms} default): a step whose job
     * is older and whose JobSubmitted is still not readable lost it (the topic's retention) and runs.
     */
    static final Duration LONGEST_TRANSACTION = Duration.ofMinutes(15);
    private static final Duration SYNC_TIMEOUT = Duration.ofSeconds(5);
    /**
     * How long a step waits for the events reader to read its job's JobSubmitted (committed in the step's own
     * transaction, so readable with it unless an earlier transaction is still open) before asking the broker where the
     * topic ends: the reader is usually a moment behind the step consumer, and waiting for it saves a ListOffsets round
     * trip and a turn of the reader (issue 16).
     */
    private static final Duration READER_DELIVERY = Duration.ofMillis(250);
    private static final Duration RETRY_PAUSE = Duration.ofMillis(200);

    /** What to do with a step. */
    enum Decision {
        RUN,
        /** A duplicate of another job: consume it without running or writing anything. */
        SKIP,
        /** Its job is not readable on the events topic yet: read the step again later. */
        WAIT
    }

    private final Submissions submissions;
    private final EventsSync events;

    JobIntake(Submissions submissions, EventsSync events) {
        this.submissions = requireNonNull(submissions, "submissions is null");
        this.events = requireNonNull(events, "events is null");
    }

    Decision admit(StepRequested request) {
        if (request.getSpec().getClientRequestId().isEmpty()) {
            return Decision.RUN;
        }
        Optional<Submissions.Verdict> verdict = submissions.verdict(request.getJobId());
        if (verdict.isEmpty()) {
            verdict = delivered(request.getJobId());
        }
        if (verdict.isEmpty()) {
            verdict = afterReadingTheTopic(request.getJobId());
        }
        if (verdict.isEmpty()) {
            long ageMs = System.currentTimeMillis() - request.getSpec().getSubmittedAtMs();
            if (ageMs > LONGEST_TRANSACTION.toMillis()) {
                log.warn("Job {} was submitted {} s ago and its JobSubmitted is not on the events topic (retention?); its step runs",
                        request.getJobId(), ageMs / 1000);
                return Decision.RUN;
            }
            return Decision.WAIT;
        }
        if (verdict.get().kind() == Submissions.Kind.FIRST) {
            return Decision.RUN;
        }
        log.info("Job {} is a {} of job {} (client_request_id '{}'); its step {} is not run", request.getJobId(),
                verdict.get().kind().name().toLowerCase(java.util.Locale.ROOT), verdict.get().firstJobId(),
                request.getSpec().getClientRequestId(), request.getStepIndex() + 1);
        return Decision.SKIP;
    }

    private Optional<Submissions.Verdict> delivered(String jobId) {
        try {
            return submissions.awaitVerdict(jobId, READER_DELIVERY);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Optional.empty();
        }
    }

    private Optional<Submissions.Verdict> afterReadingTheTopic(String jobId) {
        try {
            events.awaitLatest(SYNC_TIMEOUT);
            Optional<Submissions.Verdict> verdict = submissions.verdict(jobId);
            if (verdict.isEmpty()) {
                Thread.sleep(RETRY_PAUSE.toMillis());
            }
            return verdict;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Optional.empty();
        }
    }
}
