package io.condense.sdk.testkit;

import static java.util.Objects.requireNonNull;

import io.condense.sdk.context.StepContext;
import io.condense.sdk.data.Dataset;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.eval.Evaluator;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.technique.Parameters;
import io.condense.sdk.technique.Technique;
import io.condense.sdk.training.Trainer;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeSet;

/**
 * A real, hand-written {@link StepContext} for tests: it records every progress event, has a cancel switch
 * (flip it with {@link #cancel()} or let it flip itself after a number of progress events), a
 * {@link SimpleMeterRegistry} tagged {@code technique=<id>} like the host's, the evaluator found by
 * {@link Evaluators} unless told otherwise, optional calibration, evaluation and training data, and a scratch folder
 * that {@link #close()} deletes when the context created it.
 *
 * <pre>{@code
 * try (TestStepContext context = TestStepContext.builder()
 *         .technique(technique, Map.of("sparsity", "0.5"))
 *         .calibrationData(SharedData.mnistDigits(100, 1f / 255))
 *         .build()) {
 *     TechniqueResult result = technique.apply(model, context.parameters(), context);
 *     assertThat(context.progressEvents()).isNotEmpty();
 * }
 * }</pre>
 */
public final class TestStepContext implements StepContext, AutoCloseable {

    /** One call to {@link #progress(double, String)}. */
    public record ProgressEvent(double fraction, String message) {
    }

    private final String techniqueId;
    private final Parameters parameters;
    private final SimpleMeterRegistry meterRegistry;
    private final Optional<Evaluator> evaluator;
    private final Optional<Dataset> calibrationData;
    private final Optional<Dataset> evaluationData;
    private final Optional<Dataset> trainingData;
    private final Optional<Trainer> trainer;
    private final Map<String, OnnxModel> uploadedModels;
    private final Optional<OnnxModel> jobModel;
    private final Path scratchDirectory;
    private final boolean ownsScratchDirectory;
    private final int cancelAfterProgressEvents;
    private final List<ProgressEvent> progressEvents = new ArrayList<>();
    private volatile boolean cancelled;

    private TestStepContext(Builder builder, Path scratchDirectory, boolean ownsScratchDirectory) {
        this.techniqueId = builder.techniqueId;
        this.parameters = builder.parameters;
        this.meterRegistry = new SimpleMeterRegistry();
        this.meterRegistry.config().commonTags("technique", builder.techniqueId);
        this.evaluator = builder.evaluator;
        this.calibrationData = Optional.ofNullable(builder.calibrationData);
        this.evaluationData = Optional.ofNullable(builder.evaluationData);
        this.trainingData = Optional.ofNullable(builder.trainingData);
        this.trainer = Optional.ofNullable(builder.trainer);
        this.uploadedModels = Map.copyOf(builder.uploadedModels);
        this.jobModel = Optional.ofNullable(builder.jobModel);
        this.scratchDirectory = scratchDirectory;
        this.ownsScratchDirectory = ownsScratchDirectory;
        this.cancelAfterProgressEvents = builder.cancelAfterProgressEvents;
        this.cancelled = builder.cancelled;
    }

    public static Builder builder() {
        return new Builder();
    }

    @Override
    public String techniqueId() {
        return techniqueId;
    }

    @Override
    public Parameters parameters() {
        return parameters;
    }

    /** The registry, typed, so tests can read what the technique recorded. */
    @Override
    public SimpleMeterRegistry meterRegistry() {
        return meterRegistry;
    }

    /**
     * Records the event. Fractions outside [0, 1] and missing messages are recorded as given (the
     * compatibility kit checks them) rather than thrown, so a test sees every event.
     */
    @Override
    public void progress(double fraction, String message) {
        synchronized (progressEvents) {
            progressEvents.add(new ProgressEvent(fraction, message));
            if (cancelAfterProgressEvents > 0 && progressEvents.size() >= cancelAfterProgressEvents) {
                cancelled = true;
            }
        }
    }

    /** Every progress event so far, in order (a copy). */
    public List<ProgressEvent> progressEvents() {
        synchronized (progressEvents) {
            return List.copyOf(progressEvents);
        }
    }

    /** Flips the cancel switch: from now on {@link #isCancelled()} is true. */
    public void cancel() {
        cancelled = true;
    }

    @Override
    public boolean isCancelled() {
        return cancelled;
    }

    @Override
    public Optional<Evaluator> evaluator() {
        return evaluator;
    }

    @Override
    public Optional<Dataset> calibrationData() {
        return calibrationData;
    }

    @Override
    public Optional<Dataset> evaluationData() {
        return evaluationData;
    }

    /** The training set given to the builder (always with labels), or empty, as the host offers it. */
    @Override
    public Optional<Dataset> trainingData() {
        return trainingData;
    }

    /** The trainer given to the builder, or empty (as a host without a training runtime offers none). */
    @Override
    public Optional<Trainer> trainer() {
        return trainer;
    }

    /**
     * A model given to the builder with {@link Builder#uploadedModel(String, OnnxModel)}; INVALID_PARAMETER naming the id
     * otherwise, as the host answers for an id it holds no blob for.
     */
    @Override
    public OnnxModel uploadedModel(String id) {
        OnnxModel model = uploadedModels.get(requireNonNull(id, "id is null"));
        if (model == null) {
            throw new CondenseException(ErrorCode.INVALID_PARAMETER, "no uploaded model has the id " + id + ": upload the model first"
                    + " (the test context holds " + new TreeSet<>(uploadedModels.keySet()) + ")");
        }
        return model;
    }

    /** The model given to the builder with {@link Builder#jobModel(OnnxModel)}, or empty (as an older host offers none). */
    @Override
    public Optional<OnnxModel> jobModel() {
        return jobModel;
    }

    @Override
    public Path scratchDirectory() {
        return scratchDirectory;
    }

    /** Deletes the scratch folder and everything in it, when this context created it. */
    @Override
    public void close() {
        meterRegistry.close();
        if (ownsScratchDirectory) {
            deleteRecursively(scratchDirectory);
        }
    }

    static void deleteRecursively(Path folder) {
        if (!Files.exists(folder)) {
            return;
        }
        try {
            Files.walkFileTree(folder, new SimpleFileVisitor<>() {
                @Override
                public FileVisitResult visitFile(Path file, BasicFileAttributes attributes) throws IOException {
                    Files.delete(file);
                    return FileVisitResult.CONTINUE;
                }

                @Override
                public FileVisitResult postVisitDirectory(Path directory, IOException failure) throws IOException {
                    if (failure != null) {
                        throw failure;
                    }
                    Files.delete(directory);
                    return FileVisitResult.CONTINUE;
                }
            });
        } catch (IOException e) {
            throw new UncheckedIOException("cannot delete the scratch folder " + folder, e);
        }
    }

    /** Builds a {@link TestStepContext}; every setting is optional. */
    public static final class Builder {
        private String techniqueId = "test";
        private Parameters parameters = Parameters.validate(List.of(), Map.of());
        private Optional<Evaluator> evaluator;
        private Dataset calibrationData;
        private Dataset evaluationData;
        private Dataset trainingData;
        private Trainer trainer;
        private final Map<String, OnnxModel> uploadedModels = new LinkedHashMap<>();
        private OnnxModel jobModel;
        private Path scratchDirectory;
        private int cancelAfterProgressEvents;
        private boolean cancelled;

        private Builder() {
        }

        /** The technique id (also the {@code technique} tag of the registry); default {@code test}. */
        public Builder techniqueId(String techniqueId) {
            this.techniqueId = requireNonNull(techniqueId, "techniqueId is null");
            return this;
        }

        /** Already validated parameters; default: no parameters. */
        public Builder parameters(Parameters parameters) {
            this.parameters = requireNonNull(parameters, "parameters is null");
            return this;
        }

        /**
         * The technique's id, and the given values validated against its descriptor's specs (defaults filled in),
         * as the host does before a step runs.
         *
         * @throws io.condense.sdk.technique.InvalidParametersException when the values break the specs
         */
        public Builder technique(Technique technique, Map<String, String> parameterValues) {
            requireNonNull(technique, "technique is null");
            requireNonNull(parameterValues, "parameterValues is null");
            this.techniqueId = technique.descriptor().id();
            this.parameters = Parameters.validate(technique.descriptor().parameters(), parameterValues);
            return this;
        }

        /** The evaluator to offer; default: the one {@link Evaluators#find()} finds, or none. */
        public Builder evaluator(Evaluator evaluator) {
            this.evaluator = Optional.of(requireNonNull(evaluator, "evaluator is null"));
            return this;
        }

        /** Offer no evaluator at all, as a host without a runtime would. */
        public Builder withoutEvaluator() {
            this.evaluator = Optional.empty();
            return this;
        }

        public Builder calibrationData(Dataset calibrationData) {
            this.calibrationData = requireNonNull(calibrationData, "calibrationData is null");
            return this;
        }

        /** A model the step may read with {@link StepContext#uploadedModel(String)}, as if the client had uploaded it. */
        public Builder uploadedModel(String id, OnnxModel model) {
            this.uploadedModels.put(requireNonNull(id, "id is null"), requireNonNull(model, "model is null"));
            return this;
        }

        /** The model the job was submitted with, offered by {@link StepContext#jobModel()}. */
        public Builder jobModel(OnnxModel model) {
            this.jobModel = requireNonNull(model, "model is null");
            return this;
        }

        public Builder evaluationData(Dataset evaluationData) {
            this.evaluationData = requireNonNull(evaluationData, "evaluationData is null");
            return this;
        }

        /**
         * The training set to offer through {@link StepContext#trainingData()}. Like the host, it must have
         * labels (one per sample; {@link Dataset} itself checks the counts agree).
         *
         * @throws IllegalArgumentException when the data set has no labels: the host never offers such a set
         */
        public Builder trainingData(Dataset trainingData) {
            requireNonNull(trainingData, "trainingData is null");
            if (trainingData.labels().isEmpty()) {
                throw new IllegalArgumentException("trainingData has " + trainingData.size() + " inputs but no labels; "
                        + "the host offers training data only with labels: build it with Dataset.of(inputs, labels)");
            }
            this.trainingData = trainingData;
            return this;
        }

        /**
         * The trainer to offer through {@link StepContext#trainer()}; default: none, as a host without a training
         * runtime. Tests get the host's with {@code ServiceLoader.load(Trainer.class)} and {@code condense-training}
         * at test scope.
         */
        public Builder trainer(Trainer trainer) {
            this.trainer = requireNonNull(trainer, "trainer is null");
            return this;
        }

        /** A scratch folder the test owns (not deleted by {@link #close()}); default: a new temporary folder. */
        public Builder scratchDirectory(Path scratchDirectory) {
            this.scratchDirectory = requireNonNull(scratchDirectory, "scratchDirectory is null");
            return this;
        }

        /** Starts already cancelled. */
        public Builder cancelled() {
            this.cancelled = true;
            return this;
        }

        /** Flips the cancel switch by itself once this many progress events have been reported. */
        public Builder cancelAfterProgressEvents(int count) {
            if (count <= 0) {
                throw new IllegalArgumentException("count must be positive, got " + count);
            }
            this.cancelAfterProgressEvents = count;
            return this;
        }

        public TestStepContext build() {
            if (evaluator == null) {
                evaluator = Evaluators.find();
            }
            if (scratchDirectory != null) {
                return new TestStepContext(this, scratchDirectory, false);
            }
            try {
                return new TestStepContext(this, Files.createTempDirectory("condense-step-" + techniqueId + "-"), true);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot create a scratch folder in " + System.getProperty("java.io.tmpdir"), e);
            }
        }
    }
}
