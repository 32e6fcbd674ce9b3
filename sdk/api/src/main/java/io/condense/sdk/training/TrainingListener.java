package io.condense.sdk.training;

/** Hears about a training run as it goes. Called on the training thread; keep it quick. */
public interface TrainingListener {

    /** After every batch. */
    void onBatch(TrainingProgress progress);

    /** After every epoch (and its validation, if any). */
    default void onEpoch(EpochSummary summary) {
    }

    /**
     * A listener that reports through a step's progress: the fraction of the run done and, for a person,
     * {@code epoch 2/5 batch 120/938 loss 0.4123 accuracy 0.8512 lr 0.01}; every epoch's summary too.
     */
    static TrainingListener reportingTo(io.condense.sdk.context.StepContext context) {
        java.util.Objects.requireNonNull(context, "context is null");
        return new TrainingListener() {
            private double fraction;

            @Override
            public void onBatch(TrainingProgress progress) {
                fraction = Math.min(1, progress.fraction());
                context.progress(fraction, progress.toString());
            }

            @Override
            public void onEpoch(EpochSummary summary) {
                context.progress(fraction, summary.toString());
            }
        };
    }

    /** A listener that ignores everything. */
    static TrainingListener none() {
        return progress -> {
        };
    }
}
