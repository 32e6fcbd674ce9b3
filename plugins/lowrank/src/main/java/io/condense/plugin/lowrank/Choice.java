package io.condense.plugin.lowrank;

/**
 * A rank for one layer and what it costs: weight parameters and MACs of the factorised layer (biases excluded:
 * they stay as they are) and the share of the weight's squared Frobenius norm the approximation keeps.
 *
 * @param inputRank the rank (for Tucker-2, the rank on the input-channel mode)
 * @param outputRank equal to {@code inputRank} except for Tucker-2 (the rank on the output-channel mode)
 * @param parameters weight parameters after factorisation
 * @param macs multiply-accumulates after factorisation (0 when the layer's shapes are unknown)
 * @param keptEnergy {@code ||W_approx||_F^2 / ||W||_F^2}; the relative error is {@code sqrt(1 - keptEnergy)}
 */
record Choice(int inputRank, int outputRank, long parameters, long macs, double keptEnergy) {

    /** The relative Frobenius reconstruction error {@code ||W - W_approx|| / ||W||}. */
    double relativeError() {
        return Math.sqrt(Math.max(0, 1 - keptEnergy));
    }

    /** The rank as a report value: a number, or [input, output] for Tucker-2. */
    Object rankValue() {
        return inputRank == outputRank ? (Object) inputRank : java.util.List.of(inputRank, outputRank);
    }
}
