package io.condense.plugin.training.sparsity;

import io.condense.sdk.context.StepContext;
import io.condense.sdk.training.EpochSummary;
import io.condense.sdk.training.TrainingListener;
import io.condense.sdk.training.TrainingProgress;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Progress of a gradual pruning run through the step: as {@link TrainingListener#reportingTo} says it, with the masks'
 * current sparsity after loss, accuracy and rate ({@code ... lr 0.00800 sparsity 0.8123}); and the sparsity at the end of
 * every epoch, for the report's history.
 */
public final class SparsityProgress implements TrainingListener {
    private final StepContext context;
    private final GradualPruning pruning;
    private final List<Double> epochSparsity = new ArrayList<>();
    private double fraction;

    public SparsityProgress(StepContext context, GradualPruning pruning) {
        this.context = context;
        this.pruning = pruning;
    }

    @Override
    public void onBatch(TrainingProgress progress) {
        fraction = Math.min(1, progress.fraction());
        context.progress(fraction, progress + sparsity());
    }

    @Override
    public void onEpoch(EpochSummary summary) {
        epochSparsity.add(pruning.currentSparsity());
        context.progress(fraction, summary + sparsity());
    }

    private String sparsity() {
        return String.format(Locale.ROOT, " sparsity %.4f", pruning.currentSparsity());
    }

    /** The masks' sparsity at the end of each epoch so far. */
    public List<Double> epochSparsity() {
        return List.copyOf(epochSparsity);
    }
}
