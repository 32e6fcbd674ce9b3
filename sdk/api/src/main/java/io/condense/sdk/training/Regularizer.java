package io.condense.sdk.training;

import static java.util.Objects.requireNonNull;

import java.util.Map;
import java.util.Set;

/**
 * A sparsity-inducing penalty added to the training loss; the trainer adds its (sub)gradient to the named initializers'
 * gradients at every step, as the reference implementations of these methods do (the reported loss stays the data loss).
 */
public sealed interface Regularizer {

    /** How strongly the penalty weighs against the data loss: its factor lambda. */
    double strength();

    /**
     * {@code strength x sum |w|} over the named initializers: gradient {@code strength x sign(w)}. On weights it drives
     * single weights to zero; on BatchNormalization scales it is network slimming (Liu et al., 2017).
     */
    record L1(double strength, Set<String> initializers) implements Regularizer {
        public L1 {
            check(strength);
            initializers = Set.copyOf(requireNonNull(initializers, "initializers is null"));
        }

        @Override
        public Set<String> targets() {
            return initializers;
        }
    }

    /**
     * Group lasso over output channels: {@code strength x sum over channels ||w_c||_2}, each channel being one slice of
     * the initializer along its output axis (a Conv's filter, a Gemm's output row or column); gradient
     * {@code strength x w_c / ||w_c||}. Drives whole filters to zero, so that channel pruning can remove them.
     *
     * @param outputAxes per initializer, the axis along which its output channels lie
     */
    record GroupLasso(double strength, Map<String, Integer> outputAxes) implements Regularizer {
        public GroupLasso {
            check(strength);
            outputAxes = Map.copyOf(requireNonNull(outputAxes, "outputAxes is null"));
        }

        @Override
        public Set<String> targets() {
            return outputAxes.keySet();
        }
    }

    /** The initializers the penalty reads. */
    Set<String> targets();

    /** Refuses a negative, infinite or NaN strength. */
    private static void check(double strength) {
        if (!(strength >= 0) || Double.isInfinite(strength)) {
            throw new IllegalArgumentException("strength must be finite and at least 0, got " + strength);
        }
    }
}
