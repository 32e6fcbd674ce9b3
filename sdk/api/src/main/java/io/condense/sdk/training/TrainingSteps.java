package io.condense.sdk.training;

import static java.util.Objects.requireNonNull;

import io.condense.sdk.context.StepContext;
import io.condense.sdk.data.Dataset;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.model.InitializerInfo;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.technique.Parameters;
import java.util.List;
import java.util.Map;

/**
 * What every technique that trains in the host's runtime does the same way ({@code finetune}, {@code distill}): asks
 * for the job's training data and the host's trainer with the same refusals, and turns the runtime's unexpected failures
 * into {@code RUNTIME_FAILURE} with a message a person can act on.
 */
public final class TrainingSteps {
    private TrainingSteps() {
    }

    /** The job's training data; {@code DATA_REQUIRED} naming {@code --train-data} and {@code --train-labels} when it has none. */
    public static Dataset trainingData(StepContext context, String techniqueId) {
        requireNonNull(context, "context is null");
        return context.trainingData().orElseThrow(() -> new CondenseException(ErrorCode.DATA_REQUIRED,
                techniqueId + " needs labelled training data: pass --train-data with the inputs and --train-labels with one "
                        + "integer class label per sample (.npy, .npz or IDX)"));
    }

    /**
     * The settings with nothing held out for validation when {@code validation} was not given and the job has labelled
     * evaluation data: accuracy is then measured on that data, so holding out a tenth of the training data would only
     * train on less (the Caffe LeNet-5 after 92% pruning trained on 54,000 of Fashion-MNIST's 60,000 images).
     */
    public static TrainingParameters.Settings validationDefault(TrainingParameters.Settings settings, Parameters parameters,
            StepContext context) {
        boolean evaluated = context.evaluationData().flatMap(Dataset::labels).isPresent();
        return evaluated && !parameters.isExplicit(TrainingParameters.VALIDATION) ? settings.withValidationShare(0) : settings;
    }

    /** The host's trainer; {@code UNAVAILABLE} when the host offers none. */
    public static Trainer trainer(StepContext context, String techniqueId) {
        requireNonNull(context, "context is null");
        return context.trainer().orElseThrow(() -> new CondenseException(ErrorCode.UNAVAILABLE,
                techniqueId + " needs the host's training runtime (condense-training, PyTorch through DJL), and this host offers "
                        + "none: run the job on a Condense server or CLI built with the training runtime"));
    }

    /**
     * Trains; a failure that is not a {@link CondenseException} becomes {@code RUNTIME_FAILURE}.
     *
     * @param doing what the training is for, in the message ({@code fine-tuning})
     */
    public static TrainingResult train(Trainer trainer, TrainingRequest request, String doing) {
        requireNonNull(trainer, "trainer is null");
        try {
            return trainer.train(request);
        } catch (CondenseException e) {
            throw e;
        } catch (RuntimeException e) {
            throw new CondenseException(ErrorCode.RUNTIME_FAILURE, "the training runtime failed while " + doing + ": " + e.getMessage()
                    + "; check the training data fits the model's input", e);
        }
    }

    /** {@link Trainer#accuracy}; a failure that is not a {@link CondenseException} becomes {@code RUNTIME_FAILURE}. */
    public static double accuracy(Trainer trainer, OnnxModel model, Dataset data, float inputScale, int batch) {
        requireNonNull(trainer, "trainer is null");
        try {
            return trainer.accuracy(model, data, inputScale, batch);
        } catch (CondenseException e) {
            throw e;
        } catch (RuntimeException e) {
            throw new CondenseException(ErrorCode.RUNTIME_FAILURE, "the training runtime failed measuring accuracy: " + e.getMessage(), e);
        }
    }

    /** The model with its sparse initializers stored dense (the training runtime reads dense initializers only). */
    public static OnnxModel densified(OnnxModel model) {
        return model.initializers().stream().anyMatch(InitializerInfo::sparse) ? model.edit().densifySparseInitializers().build() : model;
    }

    /** The run's epochs as a report's {@code history} ({@link EpochSummary#toMap()}). */
    public static List<Map<String, Object>> history(TrainingResult result) {
        return result.history().stream().map(EpochSummary::toMap).toList();
    }
}
