package io.condense.sdk.training;

/** How gradients become weight updates. The learning rate comes from the {@link LearningRateSchedule}. */
public sealed interface Optimizer {

    /** Weight decay (L2, added to the gradient) of this optimizer; 0 for none. */
    double weightDecay();

    static Optimizer sgd(double momentum, double weightDecay) {
        return new Sgd(momentum, weightDecay);
    }

    static Optimizer adam() {
        return new Adam(0.9, 0.999, 1e-8, 0);
    }

    /**
     * Stochastic gradient descent with momentum ({@code v = momentum * v + g; w -= rate * v}).
     *
     * @param momentum in [0, 1)
     * @param weightDecay at least 0
     */
    record Sgd(double momentum, double weightDecay) implements Optimizer {
        public Sgd {
            if (!(momentum >= 0 && momentum < 1)) {
                throw new IllegalArgumentException("momentum must be in [0, 1), got " + momentum);
            }
            if (!(weightDecay >= 0)) {
                throw new IllegalArgumentException("weightDecay must be at least 0, got " + weightDecay);
            }
        }
    }

    /** Adam (Kingma and Ba) with bias correction. */
    record Adam(double beta1, double beta2, double epsilon, double weightDecay) implements Optimizer {
        public Adam {
            if (!(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1)) {
                throw new IllegalArgumentException("beta1 and beta2 must be in [0, 1), got " + beta1 + " and " + beta2);
            }
            if (!(epsilon > 0)) {
                throw new IllegalArgumentException("epsilon must be positive, got " + epsilon);
            }
            if (!(weightDecay >= 0)) {
                throw new IllegalArgumentException("weightDecay must be at least 0, got " + weightDecay);
            }
        }
    }
}
