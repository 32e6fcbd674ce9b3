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
     * latent the output gradient times {@code positive}, 1 or {@code negative} by the element's region (or as it is, with
     * {@link #LATENT_GRADIENT} {@value #PLAIN}).
     */
    public static final String TRAINED_TERNARY = "TrainedTernary";
    /**
     * What a TTQ model's file calls the float weights it carries for a following fine-tuning: the initializer named
     * {@code <positive levels>} + this suffix, of the levels' shape, that no node reads. TTQ trains latent weights that
     * start from the float model's (the paper's latent is the float weight scaled to [-1, 1]); {@code ternarize(method=ttq)}
     * keeps them here so that {@code finetune} starts from them rather than from the levels, and {@code finetune} removes
     * them from the model it writes.
     */
    public static final String TTQ_LATENT_SUFFIX = "_ttq_latent";
    /**
     * What a W1-A1 model's file ({@code binarize(activations=1)}) calls the float weights it carries for a following
     * fine-tuning: the initializer named {@code <binary levels>} + this suffix, of the levels' shape, that no node reads, with
     * the levels' signs. {@code finetune} starts the binary latent weights from them (rather than from +-alpha, where every
     * weight sits one scale from flipping) and removes them from the model it writes.
     */
    public static final String BINARY_LATENT_SUFFIX = "_float_latent";
    /**
     * An int attribute of {@link #TRAINED_TERNARY}: the scales are 1-D, one per entry of the latent along this axis (per
     * output channel); absent, they are scalars.
     */
    public static final String AXIS = "axis";
    /** The threshold factor attribute of {@link #TRAINED_TERNARY}. */
    public static final String THRESHOLD = "threshold";
    /**
     * A float attribute (default 1) multiplying the gradient of the scales of {@link #TRAINED_TERNARY}, as LSQ (Esser et
     * al. 2020) scales a step size's gradient: the scales' values are unchanged.
     */
    public static final String SCALE_GRADIENT = "scale_gradient";
    /**
     * A string attribute of {@link #TRAINED_TERNARY}: {@value #PLAIN} gives the latent the output gradient as it is (the
     * straight-through estimator of BinaryConnect and TWN); absent, the paper's gradient scaled by region.
     */
    public static final String LATENT_GRADIENT = "latent_gradient";
    /** The value of {@link #LATENT_GRADIENT} for the unscaled straight-through gradient. */
    public static final String PLAIN = "plain";

    /**
     * A learned step size (LSQ, Esser et al. 2020): inputs {@code scale} (a quantizer's step, trainable) and {@code x} (the
     * tensor that step quantizes, read for its size only). Output: {@code scale} unchanged; its gradient is multiplied by
     * {@code 1 / sqrt(N x Qp)}, N the elements of x per scale entry (per sample when attribute {@value #SAMPLES} is 1, for
     * activations whose first axis is the batch), Qp the float attribute {@value #POSITIVE_LEVELS}. QuantizeLinear and
     * DequantizeLinear reading the output then give the step LSQ's gradient (round(x/s) - x/s inside the range, the clipped
     * level outside).
     */
    public static final String LEARNED_STEP_SIZE = "LearnedStepSize";
    /** The positive levels Qp attribute of {@link #LEARNED_STEP_SIZE}. */
    public static final String POSITIVE_LEVELS = "positive_levels";
    /** The attribute of {@link #LEARNED_STEP_SIZE} saying x's first axis counts samples (1) or not (0, default). */
    public static final String SAMPLES = "samples";

    /**
     * A gradient scaled per element: inputs {@code x} (trainable) and {@code factor} (a constant broadcast to x's shape).
     * Output: {@code x} unchanged; its gradient is multiplied by {@code factor}. Trained weight sharing (Deep Compression's
     * k-means codebooks) reads each codebook through one, the factor of an entry 1 / the number of weights that share it, so
     * that a centroid moves by the mean of its weights' gradients rather than their sum.
     */
    public static final String SCALED_GRADIENT = "ScaledGradient";

    private TrainingOperators() {
    }
}
