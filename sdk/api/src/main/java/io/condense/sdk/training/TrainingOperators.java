package io.condense.sdk.training;

/**
 * Operators of the training runtime's own domain, {@value #DOMAIN}: training graphs that a technique builds for the
 * host's {@link Trainer} may use them, written models never do (ONNX Runtime does not know them). Each stands for a
 * quantizer whose training rule (the gradient the paper gives it) ONNX's own operators cannot express.
 */
public final class TrainingOperators {
    /** The domain of every operator here. */
    public static final String DOMAIN = "io.condense.training";

    /**
     * Trained ternary quantization (Zhu et al., TTQ, 2017). Inputs: {@code latent} (float weight), {@code positive}
     * and {@code negative} (the two trained scales, scalars, both positive). Attribute {@value #THRESHOLD} (float t):
     * per call the threshold is {@code t x max |latent|}. Output: {@code positive} where latent > threshold,
     * {@code -negative} where latent < -threshold, 0 elsewhere. Gradients as the paper's: the positive scale gets the sum
     * of the output gradient over the positive elements, the negative scale minus the sum over the negative ones, the
     * latent the output gradient times {@code positive}, 1 or {@code negative} by the element's region.
     */
    public static final String TRAINED_TERNARY = "TrainedTernary";
    /** The threshold factor attribute of {@link #TRAINED_TERNARY}. */
    public static final String THRESHOLD = "threshold";
    /**
     * A float attribute (default 1) multiplying the gradient of the scales of {@link #TRAINED_TERNARY}, as LSQ (Esser et
     * al. 2020) scales a step size's gradient: the scales' values are unchanged.
     */
    public static final String SCALE_GRADIENT = "scale_gradient";

    private TrainingOperators() {
    }
}
