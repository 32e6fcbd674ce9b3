package io.condense.sdk.context;

import io.condense.sdk.data.Dataset;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.eval.Evaluator;
import io.condense.sdk.model.OnnxModel;
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

    /**
     * Training inputs and their labels supplied with the job ({@code --train-data} and {@code --train-labels},
     * {@code SubmitRequest.train_data_id} and {@code train_labels_id}), for techniques that train or fine-tune.
     *
     * <p>When present, the data set always has labels ({@link Dataset#labels()} is non-empty): integer class
     * indices, one per sample, as many as there are inputs. The host reads the data on first call only
     * (most techniques never ask) with the SDK's readers (.npy, .npz, IDX raw or gzip), and refuses what
     * cannot train: inputs without labels fail with {@link ErrorCode#DATA_REQUIRED}, labels whose sample
     * count differs from the inputs', or files it cannot read, with {@link ErrorCode#INVALID_DATA}; the
     * message says which and what to supply. A technique that needs training data and finds none throws
     * {@link ErrorCode#DATA_REQUIRED} itself, naming {@code --train-data} and {@code --train-labels}.
     *
     * @return the job's training set; empty when the job has none, or when the host does not offer
     *     training data (hosts older than this method)
     * @throws CondenseException DATA_REQUIRED or INVALID_DATA as above
     */
    default Optional<Dataset> trainingData() {
        return Optional.empty();
    }

    /**
     * A model the client uploaded to the host, by the blob id {@code UploadModel} answered, parsed and checked as a
     * job's model is: for techniques with a parameter that names a second model (the student of {@code distill}).
     * The command line uploads a parameter value written {@code @file.onnx} and passes its id.
     *
     * @param id the blob id of the uploaded model
     * @return the model
     * @throws CondenseException INVALID_PARAMETER when the host holds no blob with that id, INVALID_MODEL when the blob
     *     is not an ONNX model, UNAVAILABLE when the host keeps no uploaded models (hosts older than this method)
     */
    default OnnxModel uploadedModel(String id) {
        throw new CondenseException(ErrorCode.UNAVAILABLE, "this host keeps no uploaded models, so the model " + id
                + " cannot be read; run the step on a Condense host of version 0.1.0 or later");
    }

    /**
     * The model the job was submitted with: the input of its first step, before any step changed it. For techniques that
     * compare with or learn from the original while working on an already compressed model (the teacher of
     * {@code finetune(distill_alpha=...)}).
     *
     * @return the job's original model; empty when the host does not offer it (hosts older than this method)
     */
    default Optional<OnnxModel> jobModel() {
        return Optional.empty();
    }

    /** A folder private to this step for temporary files; the host deletes it afterwards. */
    Path scratchDirectory();
}
