package io.condense.server.worker;

import static java.util.Objects.requireNonNull;

import io.condense.sdk.context.StepContext;
import io.condense.sdk.data.Dataset;
import io.condense.sdk.eval.Evaluator;
import io.condense.sdk.technique.Parameters;
import io.micrometer.core.instrument.MeterRegistry;
import java.nio.file.Path;
import java.util.Optional;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/** The host's step context: what one step of one job may reach, and nothing else. */
final class HostStepContext implements StepContext {
    private final String techniqueId;
    private final Parameters parameters;
    private final MeterRegistry meterRegistry;
    private final ProgressReporter progress;
    private final BooleanSupplier cancelled;
    private final Optional<Evaluator> evaluator;
    private final Supplier<Optional<Dataset>> calibrationData;
    private final Supplier<Optional<Dataset>> evaluationData;
    private final Path scratchDirectory;

    HostStepContext(String techniqueId, Parameters parameters, MeterRegistry meterRegistry, ProgressReporter progress,
            BooleanSupplier cancelled, Optional<Evaluator> evaluator, Supplier<Optional<Dataset>> calibrationData,
            Supplier<Optional<Dataset>> evaluationData,
            Path scratchDirectory) {
        this.techniqueId = requireNonNull(techniqueId, "techniqueId is null");
        this.parameters = requireNonNull(parameters, "parameters is null");
        this.meterRegistry = requireNonNull(meterRegistry, "meterRegistry is null");
        this.progress = requireNonNull(progress, "progress is null");
        this.cancelled = requireNonNull(cancelled, "cancelled is null");
        this.evaluator = requireNonNull(evaluator, "evaluator is null");
        this.calibrationData = memoize(requireNonNull(calibrationData, "calibrationData is null"));
        this.evaluationData = memoize(requireNonNull(evaluationData, "evaluationData is null"));
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
        progress.report(fraction, message);
    }

    @Override
    public boolean isCancelled() {
        return cancelled.getAsBoolean();
    }

    @Override
    public Optional<Evaluator> evaluator() {
        return evaluator;
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

    private static <T> Supplier<T> memoize(Supplier<T> supplier) {
        return new Supplier<>() {
            private T value;
            private boolean loaded;

            @Override
            public synchronized T get() {
                if (!loaded) {
                    value = supplier.get();
                    loaded = true;
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
