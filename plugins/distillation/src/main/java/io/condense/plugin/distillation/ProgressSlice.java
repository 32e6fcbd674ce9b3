package io.condense.plugin.distillation;

import static java.util.Objects.requireNonNull;

import io.condense.sdk.context.StepContext;
import io.condense.sdk.data.Dataset;
import io.condense.sdk.eval.Evaluator;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.technique.Parameters;
import io.condense.sdk.training.Trainer;
import io.micrometer.core.instrument.MeterRegistry;
import java.nio.file.Path;
import java.util.Optional;

/**
 * The step's context for one part of the step: progress in [0, 1] of the part is reported as [from, to] of the step, with
 * a prefix on every message; everything else is the step's own. Lets distill hand its context to channel pruning without
 * the step's progress jumping back.
 */
final class ProgressSlice implements StepContext {
    private final StepContext step;
    private final double from;
    private final double to;
    private final String prefix;

    ProgressSlice(StepContext step, double from, double to, String prefix) {
        this.step = requireNonNull(step, "step is null");
        this.prefix = requireNonNull(prefix, "prefix is null");
        if (!(from >= 0 && from <= to && to <= 1)) {
            throw new IllegalArgumentException("from and to must satisfy 0 <= from <= to <= 1, got " + from + " and " + to);
        }
        this.from = from;
        this.to = to;
    }

    @Override
    public void progress(double fraction, String message) {
        step.progress(from + (to - from) * Math.min(1, Math.max(0, fraction)), prefix + message);
    }

    @Override
    public String techniqueId() {
        return step.techniqueId();
    }

    @Override
    public Parameters parameters() {
        return step.parameters();
    }

    @Override
    public MeterRegistry meterRegistry() {
        return step.meterRegistry();
    }

    @Override
    public boolean isCancelled() {
        return step.isCancelled();
    }

    @Override
    public Optional<Evaluator> evaluator() {
        return step.evaluator();
    }

    @Override
    public Optional<Trainer> trainer() {
        return step.trainer();
    }

    @Override
    public Optional<Dataset> calibrationData() {
        return step.calibrationData();
    }

    @Override
    public Optional<Dataset> evaluationData() {
        return step.evaluationData();
    }

    @Override
    public Optional<Dataset> trainingData() {
        return step.trainingData();
    }

    @Override
    public OnnxModel uploadedModel(String id) {
        return step.uploadedModel(id);
    }

    @Override
    public Path scratchDirectory() {
        return step.scratchDirectory();
    }
}
