package io.condense.sdk.context;

import io.condense.sdk.data.Dataset;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.eval.Evaluator;
import io.condense.sdk.technique.Parameters;
import io.condense.sdk.training.Trainer;
import io.micrometer.core.instrument.MeterRegistry;
import java.nio.file.Path;
import java.util.Optional;

/**
 * Everything a technique may reach while it runs, handed in by the host. A technique reaches nothing
 * else: no network, no broker, no global state.
 */
public interface StepContext {

    /** The id of the technique being run (also the {@code technique} tag of the registry). */
    String techniqueId();

    /** The validated parameters of this step. */
    Parameters parameters();

    /** A registry whose meters are already tagged with the technique and plugin version. */
    MeterRegistry meterRegistry();

    /**
     * Reports progress of this step.
     *
     * @param fraction done so far, in [0, 1]
     * @param message what is being done, for a person ("layer 3 of 12: conv2.weight")
     */
    void progress(double fraction, String message);

    /** True once the job has been cancelled; long loops check it between units of work. */
    boolean isCancelled();

    /** Throws {@link ErrorCode#CANCELLED} when the job has been cancelled. */
    default void checkCancelled() {
        if (isCancelled()) {
            throw new CondenseException(ErrorCode.CANCELLED, "the job was cancelled while running " + techniqueId());
        }
    }

    /** Runs models in the host's ONNX Runtime; empty where the host offers none. */
    Optional<Evaluator> evaluator();

    /** Trains models in the host's training runtime; empty where the host offers none. */
    default Optional<Trainer> trainer() {
        return Optional.empty();
    }

    /** Calibration inputs supplied with the job, if any. */
    Optional<Dataset> calibrationData();

    /** Evaluation inputs (and maybe labels) supplied with the job, if any. */
    Optional<Dataset> evaluationData();

    /** A folder private to this step for temporary files; the host deletes it afterwards. */
    Path scratchDirectory();
}
