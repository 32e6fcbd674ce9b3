package io.condense.server.worker;

import static java.util.Objects.requireNonNull;

import io.condense.proto.v1.JobError;
import io.condense.proto.v1.StepResult;
import io.condense.sdk.model.OnnxModel;

/** How running one step ended: completed with its result and output model, failed for good, or cancelled. */
sealed interface StepExecution {

    /** {@code packed}: the step stored a packed file (.cpk) as its output blob; {@code outputModel} is that file decoded. */
    record Completed(StepResult result, OnnxModel inputModel, OnnxModel outputModel, boolean packed) implements StepExecution {
        public Completed {
            requireNonNull(result, "result is null");
            requireNonNull(inputModel, "inputModel is null");
            requireNonNull(outputModel, "outputModel is null");
        }

        public Completed(StepResult result, OnnxModel inputModel, OnnxModel outputModel) {
            this(result, inputModel, outputModel, false);
        }
    }

    record Failed(JobError error) implements StepExecution {
        public Failed {
            requireNonNull(error, "error is null");
        }
    }

    record Cancelled(String reason) implements StepExecution {
        public Cancelled {
            requireNonNull(reason, "reason is null");
        }
    }
}
