package io.condense.plugin.training.sparsity;

/**
 * The sparsity of gradual pruning at each training step: from the model's own sparsity at the first pruning step to the
 * target at the last, with one mask update every {@code frequency} steps in between (steps are batches, counted over the
 * whole run). {@code agp} is Zhu and Gupta's cubic schedule (<i>To prune, or not to prune</i>, 2017): it prunes fast while
 * the network has many redundant weights and slowly near the target; {@code linear} raises it evenly.
 *
 * @param kind {@code agp} or {@code linear}
 * @param initial the sparsity at the start, in [0, 1)
 * @param target the sparsity at {@code endStep}, at least {@code initial}
 * @param startStep the first pruning step (0-based batch of the run)
 * @param endStep the last pruning step, at least {@code startStep}
 * @param frequency batches between mask updates, at least 1
 */
public record SparsitySchedule(String kind, double initial, double target, long startStep, long endStep, long frequency) {
    public static final String AGP = "agp";
    public static final String LINEAR = "linear";

    public SparsitySchedule {
        if (!kind.equals(AGP) && !kind.equals(LINEAR)) {
            throw new IllegalArgumentException("unknown schedule " + kind);
        }
        if (startStep < 0 || endStep < startStep || frequency < 1) {
            throw new IllegalArgumentException("bad steps: start " + startStep + ", end " + endStep + ", every " + frequency);
        }
    }

    /** Whether the masks are recomputed before {@code step}: every {@code frequency} steps from the start, and at the end. */
    public boolean due(long step) {
        return step == endStep || step >= startStep && step < endStep && (step - startStep) % frequency == 0;
    }

    /** The sparsity the masks have after the update at {@code step} (the target from {@code endStep} on). */
    public double sparsityAt(long step) {
        if (step >= endStep) {
            return target;
        }
        if (step <= startStep) {
            return initial;
        }
        double progress = (double) (step - startStep) / (endStep - startStep);
        return kind.equals(AGP) ? target + (initial - target) * Math.pow(1 - progress, 3) : initial + (target - initial) * progress;
    }

    /** How many mask updates the schedule makes. */
    public long updates() {
        long regular = (endStep - startStep + frequency - 1) / frequency;
        return regular + 1;
    }
}
