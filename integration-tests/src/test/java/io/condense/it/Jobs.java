package io.condense.it;

import io.condense.proto.v1.JobEvent;
import io.condense.proto.v1.PipelineStep;
import io.condense.server.cli.CondenseClient;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** Small helpers for building requests and following jobs. */
final class Jobs {
    private Jobs() {
    }

    static PipelineStep step(String technique, Map<String, String> parameters) {
        return PipelineStep.newBuilder().setTechnique(technique).putAllParameters(parameters).build();
    }

    static PipelineStep step(String technique) {
        return step(technique, Map.of());
    }

    /** Every event of a job until its final one. */
    static List<JobEvent> events(CondenseClient client, String jobId) {
        List<JobEvent> events = new ArrayList<>();
        client.watch(jobId, events::add);
        return events;
    }

    /** The kinds of events, progress left out. */
    static List<String> kinds(List<JobEvent> events) {
        List<String> kinds = new ArrayList<>();
        for (JobEvent event : events) {
            switch (event.getEventCase()) {
                case PROGRESS -> {
                    // how often progress is reported is up to the technique
                }
                case STEP_STARTED -> kinds.add("STEP_STARTED " + event.getStepStarted().getStep());
                case STEP_COMPLETED -> kinds.add("STEP_COMPLETED " + event.getStepCompleted().getResult().getStep());
                case STEP_RETRY -> kinds.add("STEP_RETRY " + event.getStepRetry().getStep());
                default -> kinds.add(event.getEventCase().name());
            }
        }
        return kinds;
    }

    /**
     * The events of a completed two-step job, either way they come: step 2 handed over through Kafka, or run back to back by
     * the worker that ran step 1 ({@code StepChain}: step 2's start is announced before the transaction with both results).
     */
    static final List<List<String>> TWO_STEPS_COMPLETED = List.of(
            List.of("ACCEPTED", "STEP_STARTED 1", "STEP_COMPLETED 1", "STEP_STARTED 2", "STEP_COMPLETED 2", "COMPLETED"),
            List.of("ACCEPTED", "STEP_STARTED 1", "STEP_STARTED 2", "STEP_COMPLETED 1", "STEP_COMPLETED 2", "COMPLETED"));

    /** The same for a two-step job whose second step failed. */
    static final List<List<String>> TWO_STEPS_FAILED_AT_2 = List.of(
            List.of("ACCEPTED", "STEP_STARTED 1", "STEP_COMPLETED 1", "STEP_STARTED 2", "FAILED"),
            List.of("ACCEPTED", "STEP_STARTED 1", "STEP_STARTED 2", "STEP_COMPLETED 1", "FAILED"));
}
