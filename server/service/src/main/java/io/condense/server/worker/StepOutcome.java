package io.condense.server.worker;

import static java.util.Objects.requireNonNull;

import io.condense.proto.v1.JobError;
import io.condense.proto.v1.events.BusEvent;
import io.condense.proto.v1.events.JobCancelled;
import io.condense.proto.v1.events.JobCompleted;
import io.condense.proto.v1.events.JobFailed;
import io.condense.proto.v1.events.StepCompleted;
import io.condense.proto.v1.events.StepFailed;
import io.condense.proto.v1.events.StepRequested;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCategory;
import io.condense.server.bus.Events;
import io.condense.server.metrics.JobOutcome;
import io.condense.server.plugin.LoadedTechnique;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What running one step leads to: the events that record it, then the next step's request or the job's end. Decided
 * here once for both transports: the Kafka step worker ({@link StepWorker}) writes it in one transaction, the
 * one-shot local run ({@link InProcessBus}) hands it to its job view.
 *
 * @param events the events to record, in order (the step's result, then the job's end when it ended)
 * @param next the next step to run, or null when the job ended
 * @param failure the error the job failed with (its step message then goes to the dead letters), or null
 * @param outcome how the job ended, or null when it goes on
 */
record StepOutcome(List<BusEvent> events, StepRequested next, JobError failure, JobOutcome outcome) {
    private static final Logger log = LoggerFactory.getLogger(StepOutcome.class);

    StepOutcome {
        events = List.copyOf(requireNonNull(events, "events is null"));
    }

    /**
     * Runs the step; anything the runner did not turn into a failed execution (an error, out of memory) fails the step all
     * the same, typed by {@link Failures#classify}, and the thread goes on.
     */
    static StepExecution execute(StepRunner runner, StepRequested request, LoadedTechnique technique) {
        int stepNumber = request.getStepIndex() + 1;
        try {
            return runner.run(request, technique);
        } catch (Throwable e) {
            return new StepExecution.Failed(Events.error(stepNumber, technique.id(),
                    Failures.classify(e, "step " + stepNumber + " (" + technique.id() + ")")));
        }
    }

    static StepOutcome of(StepRequested request, LoadedTechnique technique, StepExecution execution, Cancellations cancellations,
            JobFinisher finisher) {
        String jobId = request.getJobId();
        int stepIndex = request.getStepIndex();
        if (execution instanceof StepExecution.Failed failure) {
            return failed(request, technique, failure.error(), List.of());
        }
        if (execution instanceof StepExecution.Cancelled cancellation) {
            return new StepOutcome(List.of(cancelled(jobId, stepIndex, cancellation.reason())), null, null, JobOutcome.CANCELLED);
        }
        StepExecution.Completed completed = (StepExecution.Completed) execution;
        BusEvent stepCompleted = Events.event(jobId).setStepCompleted(StepCompleted.newBuilder()
                .setStepIndex(stepIndex).setResult(completed.result())).build();
        if (cancellations.isCancelled(jobId)) {
            return new StepOutcome(List.of(stepCompleted, cancelled(jobId, stepIndex, "cancelled during step " + (stepIndex + 1)
                    + " (" + technique.id() + ")")), null, null, JobOutcome.CANCELLED);
        }
        if (stepIndex + 1 < request.getSpec().getStepsCount()) {
            StepRequested next = request.toBuilder()
                    .setStepIndex(stepIndex + 1)
                    .setInputModelId(completed.result().getOutputModelId())
                    .addCompletedSteps(completed.result())
                    .build();
            return new StepOutcome(List.of(stepCompleted), next, null, null);
        }
        try {
            JobCompleted jobCompleted = finisher.finish(request, completed);
            return new StepOutcome(List.of(stepCompleted, Events.event(jobId).setJobCompleted(jobCompleted).build()), null, null,
                    JobOutcome.COMPLETED);
        } catch (JobFinisher.EndFailure e) {
            // the end of the job (evaluation, report) is blamed on its stage, not on the last step
            CondenseException cause = e.error();
            if (cause.code().category() == ErrorCategory.INTERNAL) {
                log.error("Job {}: {} failed", jobId, e.stage(), cause);
            } else {
                log.info("Job {}: {} failed: {}", jobId, e.stage(), cause.toString());
            }
            return failed(request, technique, Events.error(0, e.stage(), cause), List.of(stepCompleted));
        }
    }

    private static StepOutcome failed(StepRequested request, LoadedTechnique technique, JobError error, List<BusEvent> before) {
        String jobId = request.getJobId();
        List<BusEvent> events = new ArrayList<>(before);
        events.add(Events.event(jobId).setStepFailed(StepFailed.newBuilder().setStepIndex(request.getStepIndex())
                .setTechnique(technique.id()).setError(error).setWillRetry(false)).build());
        events.add(Events.event(jobId).setJobFailed(JobFailed.newBuilder().setError(error)).build());
        return new StepOutcome(events, null, error, JobOutcome.FAILED);
    }

    private static BusEvent cancelled(String jobId, int stepIndex, String reason) {
        return Events.event(jobId).setJobCancelled(JobCancelled.newBuilder().setStepIndex(stepIndex).setReason(reason)).build();
    }
}
