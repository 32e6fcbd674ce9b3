package io.condense.server.job;

import static org.assertj.core.api.Assertions.assertThat;

import io.condense.proto.v1.Job;
import io.condense.proto.v1.JobEvent;
import io.condense.proto.v1.JobState;
import io.condense.proto.v1.PipelineStep;
import io.condense.proto.v1.StepResult;
import io.condense.proto.v1.events.BusEvent;
import io.condense.proto.v1.events.JobCompleted;
import io.condense.proto.v1.events.JobSpec;
import io.condense.proto.v1.events.JobSubmitted;
import io.condense.proto.v1.events.StepCompleted;
import io.condense.proto.v1.events.StepStarted;
import java.util.List;
import org.junit.jupiter.api.Test;

/** What the cluster gauges and the operator's job list read from the view. */
class JobViewTest {
    private final JobView view = new JobView();

    private void submit(String jobId, long at, String... techniques) {
        JobSpec.Builder spec = JobSpec.newBuilder().setModelId("m").setSubmittedAtMs(at);
        for (String technique : techniques) {
            spec.addSteps(PipelineStep.newBuilder().setTechnique(technique));
        }
        view.accept(jobId, spec.build(), at);
    }

    private void event(String jobId, BusEvent.Builder event) {
        view.onEvent(event.setJobId(jobId).build(), true);
    }

    @Test
    void queuedCountsJobsWaitingForEachTechnique() {
        submit("a", 1, "prune", "quantize");
        submit("b", 2, "prune");
        submit("c", 3, "quantize");
        assertThat(view.queued("prune")).isEqualTo(2);
        assertThat(view.queued("quantize")).isEqualTo(1);

        event("a", BusEvent.newBuilder().setStepStarted(StepStarted.newBuilder().setStepIndex(0).setTechnique("prune")));
        assertThat(view.queued("prune")).as("a runs now").isEqualTo(1);
        event("a", BusEvent.newBuilder().setStepCompleted(StepCompleted.newBuilder().setStepIndex(0)
                .setResult(StepResult.newBuilder().setStep(1).setTechnique("prune"))));
        assertThat(view.queued("quantize")).as("a waits for quantize").isEqualTo(2);
        event("c", BusEvent.newBuilder().setJobCompleted(JobCompleted.getDefaultInstance()));
        assertThat(view.queued("quantize")).isEqualTo(1);
        assertThat(view.inFlight()).isEqualTo(2);
    }

    @Test
    void recentListsNewestFirstWithoutReportsAndFiltersByState() {
        submit("old", 10, "prune");
        submit("new", 30, "prune");
        submit("mid", 20, "prune");
        event("mid", BusEvent.newBuilder().setJobCompleted(JobCompleted.newBuilder().setReport(
                com.google.protobuf.Struct.newBuilder().putFields("ratio", com.google.protobuf.Value.newBuilder().setNumberValue(2).build()))));
        assertThat(view.recent(10, JobState.JOB_STATE_UNSPECIFIED)).extracting(Job::getJobId).containsExactly("new", "mid", "old");
        assertThat(view.recent(2, JobState.JOB_STATE_UNSPECIFIED)).extracting(Job::getJobId).containsExactly("new", "mid");
        List<Job> completed = view.recent(10, JobState.JOB_STATE_COMPLETED);
        assertThat(completed).extracting(Job::getJobId).containsExactly("mid");
        assertThat(completed.get(0).hasReport()).isFalse();
        assertThat(view.job("mid").orElseThrow().hasReport()).as("GetJob still has it").isTrue();
    }

    @Test
    void aClientRequestIdNamesTheFirstJobOfItsTenantWithTheRequestAsAsked() {
        JobSpec asked = JobSpec.newBuilder().setModelId("m").addSteps(PipelineStep.newBuilder().setTechnique("prune"))
                .setClientRequestId("nightly-1").build();
        view.accept("first", asked.toBuilder().setSubmittedAtMs(10).build(), 10);
        view.accept("second", asked.toBuilder().setSubmittedAtMs(20).build(), 20);
        view.accept("team-b", asked.toBuilder().setSubmittedAtMs(30).setTenant("team-b").build(), 30);

        Submissions.ClientRequest known = view.jobForClientRequest("nightly-1").orElseThrow();
        assertThat(known.jobId()).as("the first job keeps the id; the tenant-less caller does not see team-b's").isEqualTo("first");
        assertThat(known.request()).as("the same request, submitted later").isEqualTo(Submissions.requestOf(asked.toBuilder().setSubmittedAtMs(99).build()));
        assertThat(known.request()).as("another pipeline")
                .isNotEqualTo(Submissions.requestOf(asked.toBuilder().setSteps(0, PipelineStep.newBuilder().setTechnique("quantize")).build()));
        assertThat(view.jobForClientRequest("nightly-2")).isEmpty();
    }

    @Test
    void aDuplicateReadFromTheTopicAnswersAsTheFirstJobAndItsWatchersFollowIt() {
        JobSpec asked = JobSpec.newBuilder().setModelId("m").addSteps(PipelineStep.newBuilder().setTechnique("prune"))
                .setClientRequestId("nightly-1").build();
        // this instance wrote "retry" (its Submit answered it) while "first", written by another instance, was not readable
        view.accept("retry", asked.toBuilder().setSubmittedAtMs(20).build(), 20);
        List<JobEvent> seen = new java.util.ArrayList<>();
        boolean[] finished = {false};
        assertThat(view.watch("retry", new JobWatcher() {
            @Override
            public void onEvent(JobEvent event) {
                seen.add(event);
            }

            @Override
            public void finished() {
                finished[0] = true;
            }
        })).isTrue();
        assertThat(view.jobForClientRequest("nightly-1").orElseThrow().jobId()).isEqualTo("retry");

        // the topic's order: "first" came before "retry"
        event("first", BusEvent.newBuilder().setJobSubmitted(JobSubmitted.newBuilder().setSpec(asked.toBuilder().setSubmittedAtMs(10))));
        event("retry", BusEvent.newBuilder().setJobSubmitted(JobSubmitted.newBuilder().setSpec(asked.toBuilder().setSubmittedAtMs(20))));
        assertThat(view.jobForClientRequest("nightly-1").orElseThrow().jobId()).as("the topic's first wins").isEqualTo("first");
        assertThat(view.job("retry").orElseThrow().getJobId()).isEqualTo("first");
        assertThat(view.inFlight()).as("one job").isEqualTo(1);
        assertThat(view.recent(10, JobState.JOB_STATE_UNSPECIFIED)).extracting(Job::getJobId).containsExactly("first");

        event("first", BusEvent.newBuilder().setJobCompleted(JobCompleted.newBuilder().setResultModelId("r")));
        assertThat(view.job("retry").orElseThrow().getResultModelId()).isEqualTo("r");
        assertThat(seen).extracting(JobEvent::getJobId).containsExactly("retry", "first", "first");
        assertThat(seen.get(seen.size() - 1).hasCompleted()).isTrue();
        assertThat(finished[0]).isTrue();
        view.accept("retry", asked, 30);
        assertThat(view.recent(10, JobState.JOB_STATE_UNSPECIFIED)).as("a late local accept changes nothing").hasSize(1);
    }

    @Test
    void aLaterJobOfTheSameRequestIdWithAnotherRequestFailsAlreadyExists() {
        JobSpec asked = JobSpec.newBuilder().setModelId("m").addSteps(PipelineStep.newBuilder().setTechnique("prune"))
                .setClientRequestId("nightly-1").build();
        event("first", BusEvent.newBuilder().setJobSubmitted(JobSubmitted.newBuilder().setSpec(asked)));
        event("other", BusEvent.newBuilder().setJobSubmitted(JobSubmitted.newBuilder().setSpec(asked.toBuilder().setModelId("n"))));
        Job other = view.job("other").orElseThrow();
        assertThat(other.getState()).isEqualTo(JobState.JOB_STATE_FAILED);
        assertThat(other.getError().getCode()).isEqualTo("ALREADY_EXISTS");
        assertThat(view.job("first").orElseThrow().getState()).isEqualTo(JobState.JOB_STATE_QUEUED);
    }

    private static BusEvent stepCompleted(String jobId, int index, String technique) {
        return BusEvent.newBuilder().setJobId(jobId).setStepCompleted(StepCompleted.newBuilder().setStepIndex(index)
                .setResult(StepResult.newBuilder().setStep(index + 1).setTechnique(technique))).build();
    }

    /** Collects what a watcher is told. */
    private static final class Recorder implements JobWatcher {
        final List<io.condense.proto.v1.JobEvent> events = new java.util.concurrent.CopyOnWriteArrayList<>();
        volatile boolean finished;

        @Override
        public void onEvent(io.condense.proto.v1.JobEvent event) {
            events.add(event);
        }

        @Override
        public void finished() {
            finished = true;
        }
    }

    @Test
    void aCommittedOutcomeIsShownAtOnceAndTheReadersCopiesChangeNothing() {
        submit("j", 1, "prune", "quantize");
        Recorder watcher = new Recorder();
        view.watch("j", watcher);
        // two steps chained in one worker: both started (written first), then one transaction with both results and the end
        event("j", BusEvent.newBuilder().setStepStarted(StepStarted.newBuilder().setStepIndex(0).setTechnique("prune")));
        event("j", BusEvent.newBuilder().setStepStarted(StepStarted.newBuilder().setStepIndex(1).setTechnique("quantize")));
        List<BusEvent> outcome = List.of(stepCompleted("j", 0, "prune"), stepCompleted("j", 1, "quantize"),
                BusEvent.newBuilder().setJobId("j").setJobCompleted(JobCompleted.newBuilder().setResultModelId("r")).build());

        view.onCommitted(outcome);
        Job job = view.job("j").orElseThrow();
        assertThat(job.getState()).isEqualTo(JobState.JOB_STATE_COMPLETED);
        assertThat(job.getStepResultsList()).extracting(StepResult::getStep).containsExactly(1, 2);
        assertThat(watcher.finished).isTrue();
        int told = watcher.events.size();
        assertThat(watcher.events).extracting(e -> e.getEventCase().name())
                .containsExactly("ACCEPTED", "STEP_STARTED", "STEP_STARTED", "STEP_COMPLETED", "STEP_COMPLETED", "COMPLETED");

        outcome.forEach(event -> view.onEvent(event, true));
        assertThat(view.job("j").orElseThrow()).as("the reader's copies of the same events").isEqualTo(job);
        assertThat(watcher.events).hasSize(told);
    }

    @Test
    void aCommittedOutcomeWaitsForTheReaderWhenItHasNotSeenItsStepStart() {
        submit("j", 1, "prune", "quantize");
        Recorder watcher = new Recorder();
        view.watch("j", watcher);
        event("j", BusEvent.newBuilder().setStepStarted(StepStarted.newBuilder().setStepIndex(0).setTechnique("prune")));
        List<BusEvent> outcome = List.of(stepCompleted("j", 0, "prune"), stepCompleted("j", 1, "quantize"),
                BusEvent.newBuilder().setJobId("j").setJobCompleted(JobCompleted.getDefaultInstance()).build());

        view.onCommitted(outcome);
        assertThat(view.job("j").orElseThrow().getState()).as("step 2's start is not read yet: nothing applied")
                .isEqualTo(JobState.JOB_STATE_RUNNING);

        event("j", BusEvent.newBuilder().setStepStarted(StepStarted.newBuilder().setStepIndex(1).setTechnique("quantize")));
        outcome.forEach(event -> view.onEvent(event, true));
        assertThat(watcher.events).extracting(e -> e.getEventCase().name())
                .containsExactly("ACCEPTED", "STEP_STARTED", "STEP_STARTED", "STEP_COMPLETED", "STEP_COMPLETED", "COMPLETED");
    }

    /**
     * WorkerCrashIT once failed this way: a restarted server's view knew the crashed first attempt's start of step 2 (from
     * before the restart) but not yet the rerun's result of step 1, and the failure committed for step 2 was applied at
     * once, so the job ended without step 1's result (nothing is recorded after a job's end).
     */
    @Test
    void aCommittedOutcomeWaitsForTheReaderWhileAnEarlierStepsResultIsUnread() {
        submit("j", 1, "quantize", "halt");
        // the first server ran both steps back to back and died in step 2: two starts, nothing committed
        event("j", BusEvent.newBuilder().setStepStarted(StepStarted.newBuilder().setStepIndex(0).setTechnique("quantize").setWorker("s1")));
        event("j", BusEvent.newBuilder().setStepStarted(StepStarted.newBuilder().setStepIndex(1).setTechnique("halt").setWorker("s1")));
        io.condense.proto.v1.JobError error = io.condense.proto.v1.JobError.newBuilder().setStep(2).setTechnique("halt").build();
        List<BusEvent> failure = List.of(
                BusEvent.newBuilder().setJobId("j").setStepFailed(io.condense.proto.v1.events.StepFailed.newBuilder().setStepIndex(1)
                        .setTechnique("halt").setError(error)).build(),
                BusEvent.newBuilder().setJobId("j").setJobFailed(io.condense.proto.v1.events.JobFailed.newBuilder().setError(error)).build());

        view.onCommitted(failure);
        assertThat(view.job("j").orElseThrow().getState()).as("step 1's result is not read yet: nothing applied")
                .isEqualTo(JobState.JOB_STATE_RUNNING);

        // what the reader delivers next: the rerun of step 1 with its result, the second server's start of step 2, the failure
        event("j", BusEvent.newBuilder().setStepStarted(StepStarted.newBuilder().setStepIndex(0).setTechnique("quantize").setWorker("s2")));
        view.onEvent(stepCompleted("j", 0, "quantize"), true);
        event("j", BusEvent.newBuilder().setStepStarted(StepStarted.newBuilder().setStepIndex(1).setTechnique("halt").setWorker("s2")));
        failure.forEach(event -> view.onEvent(event, true));
        Job job = view.job("j").orElseThrow();
        assertThat(job.getState()).isEqualTo(JobState.JOB_STATE_FAILED);
        assertThat(job.getStepResultsList()).extracting(StepResult::getTechnique).containsExactly("quantize");
    }

    @Test
    void aCommittedOutcomeOfALaterStepIsShownOnceTheEarlierResultsAreRead() {
        submit("j", 1, "prune", "quantize");
        event("j", BusEvent.newBuilder().setStepStarted(StepStarted.newBuilder().setStepIndex(0).setTechnique("prune")));
        view.onEvent(stepCompleted("j", 0, "prune"), true);
        event("j", BusEvent.newBuilder().setStepStarted(StepStarted.newBuilder().setStepIndex(1).setTechnique("quantize")));

        view.onCommitted(List.of(stepCompleted("j", 1, "quantize"),
                BusEvent.newBuilder().setJobId("j").setJobCompleted(JobCompleted.newBuilder().setResultModelId("r")).build()));
        Job job = view.job("j").orElseThrow();
        assertThat(job.getState()).isEqualTo(JobState.JOB_STATE_COMPLETED);
        assertThat(job.getStepResultsList()).extracting(StepResult::getStep).containsExactly(1, 2);
    }
}
