package io.condense.server.worker;

import static java.util.Objects.requireNonNull;

import io.condense.sdk.context.StepContext;
import io.condense.sdk.data.Dataset;
import io.condense.sdk.eval.Evaluator;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.training.Trainer;
import io.condense.sdk.technique.Parameters;
import io.micrometer.core.instrument.MeterRegistry;
import java.nio.file.Path;
import java.util.Optional;
import java.util.function.BiConsumer;
import java.util.function.BooleanSupplier;
import java.util.function.Function;
import java.util.function.Supplier;

/** The host's step context: what one step of one job may reach, and nothing else. */
final class HostStepContext implements StepContext {
    private final String techniqueId;
    private final Parameters parameters;
    private final MeterRegistry meterRegistry;
    private final BiConsumer<Double, String> progress;
    private final BooleanSupplier cancelled;
    private final Optional<Evaluator> evaluator;
    private final Supplier<Optional<Dataset>> calibrationData;
    private final Supplier<Optional<Dataset>> evaluationData;
    private final Supplier<Optional<Dataset>> trainingData;
    private final Supplier<Optional<Trainer>> trainer;
    private final Function<String, OnnxModel> uploadedModels;
    private final Supplier<OnnxModel> jobModel;
    private final Path scratchDirectory;

    HostStepContext(String techniqueId, Parameters parameters, MeterRegistry meterRegistry, BiConsumer<Double, String> progress,
            BooleanSupplier cancelled, Optional<Evaluator> evaluator, Supplier<Optional<Dataset>> calibrationData,
            Supplier<Optional<Dataset>> evaluationData, Supplier<Optional<Dataset>> trainingData,
            Supplier<Optional<Trainer>> trainer, Function<String, OnnxModel> uploadedModels, Supplier<OnnxModel> jobModel,
            Path scratchDirectory) {
        this.techniqueId = requireNonNull(techniqueId, "techniqueId is null");
        this.parameters = requireNonNull(parameters, "parameters is null");
        this.meterRegistry = requireNonNull(meterRegistry, "meterRegistry is null");
        this.progress = requireNonNull(progress, "progress is null");
        this.cancelled = requireNonNull(cancelled, "cancelled is null");
        this.evaluator = requireNonNull(evaluator, "evaluator is null");
        this.calibrationData = memoize(requireNonNull(calibrationData, "calibrationData is null"));
        this.evaluationData = memoize(requireNonNull(evaluationData, "evaluationData is null"));
        this.trainingData = memoize(requireNonNull(trainingData, "trainingData is null"));
        this.trainer = requireNonNull(trainer, "trainer is null");
        this.uploadedModels = requireNonNull(uploadedModels, "uploadedModels is null");
        this.jobModel = memoize(requireNonNull(jobModel, "jobModel is null"));
        this.scratchDirectory = requireNonNull(scratchDirectory, "scratchDirectory is null");
    }

    @Override
    public String techniqueId() {
        return techniqueId;
    }

    @Override
    public Parameters parameters() {
        return parameters;
    }

    @Override
    public MeterRegistry meterRegistry() {
        return meterRegistry;
    }

    @Override
    public void progress(double fraction, String message) {
        progress.accept(fraction, message);
    }

    @Override
    public boolean isCancelled() {
        return cancelled.getAsBoolean();
    }

    @Override
    public Optional<Evaluator> evaluator() {
        return evaluator;
    }

    /** The host's training runtime (condense-training), looked up on first use: PyTorch loads only for steps that train. */
    @Override
    public Optional<Trainer> trainer() {
        return trainer.get();
    }

    /** Read from the blob store on first use only: most techniques never ask for data. */
    @Override
    public Optional<Dataset> calibrationData() {
        return calibrationData.get();
    }

    @Override
    public Optional<Dataset> evaluationData() {
        return evaluationData.get();
    }

    /**
     * The training inputs and labels, read on first use; the loader refuses inputs without labels
     * (DATA_REQUIRED) and labels whose count differs from the inputs' (INVALID_DATA).
     */
    @Override
    public Optional<Dataset> trainingData() {
        return trainingData.get();
    }

    /** Read from the blob store on each call (a technique asks once, for the model its parameter names). */
    @Override
    public OnnxModel uploadedModel(String id) {
        return uploadedModels.apply(requireNonNull(id, "id is null"));
    }

    /** The job's model as submitted, read from its blob on the first call (the step's own input at step 1). */
    @Override
    public Optional<OnnxModel> jobModel() {
        return Optional.of(jobModel.get());
    }

    /**
     * Calls the supplier once; later calls answer the same value, or throw the same failure again (a second
     * read would find the first one's files in the scratch folder and fail differently).
     */
    static <T> Supplier<T> memoize(Supplier<T> supplier) {
        return new Supplier<>() {
            private T value;
            private RuntimeException failure;
            private boolean loaded;

            @Override
            public synchronized T get() {
                if (!loaded) {
                    try {
                        value = supplier.get();
                    } catch (RuntimeException e) {
                        failure = e;
                    }
                    loaded = true;
                }
                if (failure != null) {
                    throw failure;
                }
                return value;
            }
        };
    }

    @Override
    public Path scratchDirectory() {
        return scratchDirectory;
    }
}
