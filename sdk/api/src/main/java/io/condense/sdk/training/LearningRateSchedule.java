package io.condense.sdk.training;

/** The learning rate of each batch. */
public sealed interface LearningRateSchedule {

    /** The starting rate. */
    double initialRate();

    /**
     * The rate for a batch.
     *
     * @param epoch 0-based epoch
     * @param progress fraction of the whole training done before this batch, in [0, 1)
     */
    double rate(int epoch, double progress);

    static LearningRateSchedule constant(double rate) {
        return new Constant(rate);
    }

    /** The same rate throughout. */
    record Constant(double initialRate) implements LearningRateSchedule {
        public Constant {
            checkRate(initialRate);
        }

        @Override
        public double rate(int epoch, double progress) {
            return initialRate;
        }
    }

    /** {@code initialRate * gamma^(epoch / everyEpochs)}: multiplied by gamma every {@code everyEpochs} epochs. */
    record Step(double initialRate, int everyEpochs, double gamma) implements LearningRateSchedule {
        public Step {
            checkRate(initialRate);
            if (everyEpochs <= 0) {
                throw new IllegalArgumentException("everyEpochs must be positive, got " + everyEpochs);
            }
            if (!(gamma > 0 && gamma <= 1)) {
                throw new IllegalArgumentException("gamma must be in (0, 1], got " + gamma);
            }
        }

        @Override
        public double rate(int epoch, double progress) {
            return initialRate * Math.pow(gamma, epoch / everyEpochs);
        }
    }

    /** Cosine annealing per batch from {@code initialRate} down to {@code finalRate} at the end of training. */
    record Cosine(double initialRate, double finalRate) implements LearningRateSchedule {
        public Cosine {
            checkRate(initialRate);
            if (!(finalRate >= 0 && finalRate <= initialRate)) {
                throw new IllegalArgumentException("finalRate must be in [0, initialRate], got " + finalRate);
            }
        }

        @Override
        public double rate(int epoch, double progress) {
            return finalRate + (initialRate - finalRate) * 0.5 * (1 + Math.cos(Math.PI * progress));
        }
    }

    private static void checkRate(double rate) {
        if (!(rate > 0) || Double.isInfinite(rate)) {
            throw new IllegalArgumentException("the learning rate must be positive and finite, got " + rate);
        }
    }
}
