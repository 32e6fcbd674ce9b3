package io.condense.server.training;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import io.condense.sdk.training.TrainingOperators;
import java.util.Map;
import java.util.Set;

/**
 * The operators of the training runtime's own domain ({@link TrainingOperators#DOMAIN}): quantizers whose training
 * rule ONNX's operators cannot express, written by techniques into the training graphs they hand the trainer (never
 * into a model file). Each is built from DJL operations with {@code stopGradient} shaping the gradient the paper gives.
 */
final class TrainingDomainOperators {
    private static final Map<String, Kernel> KERNELS = Map.of(TrainingOperators.TRAINED_TERNARY, TrainingDomainOperators::trainedTernary,
            TrainingOperators.LEARNED_STEP_SIZE, TrainingDomainOperators::learnedStepSize,
            TrainingOperators.SCALED_GRADIENT, TrainingDomainOperators::scaledGradient);

    private TrainingDomainOperators() {
    }

    /** The kernel of an operator of this domain, or null. */
    static Kernel kernel(String opType) {
        return KERNELS.get(opType);
    }

    static Set<String> supported() {
        return KERNELS.keySet();
    }

    /**
     * TTQ's quantizer: {@code positive} above {@code t x max |latent|}, {@code -negative} below its negation, 0 between.
     * The value is computed from masks that carry no gradient, so the scales get exactly the sums over their regions;
     * the latent's straight-through term {@code latent x g - stop(latent x g)} (zero in value) gives it the output
     * gradient times g = positive, 1 or negative by region (the paper's scaled gradient), or g = 1 with attribute
     * {@link TrainingOperators#LATENT_GRADIENT} {@value TrainingOperators#PLAIN}.
     */
    private static NDArray[] trainedTernary(ExecutionContext context, OnnxNode node, NDArray[] in) {
        if (in.length < 3 || in[0] == null || in[1] == null || in[2] == null) {
            throw node.invalid(TrainingOperators.TRAINED_TERNARY + " needs a latent and two scales");
        }
        NDArray latent = in[0];
        NDArray positiveScale = in[1];
        NDArray negativeScale = in[2];
        float factor = node.getFloat(TrainingOperators.THRESHOLD, 0.05f);
        float gradientScale = node.getFloat(TrainingOperators.SCALE_GRADIENT, 1f);
        if (gradientScale != 1f) {
            positiveScale = scaledGradient(positiveScale, gradientScale);
            negativeScale = scaledGradient(negativeScale, gradientScale);
        }
        long axis = node.getInt(TrainingOperators.AXIS, -1);
        if (axis >= 0) {
            positiveScale = alongAxis(node, positiveScale, latent, (int) axis);
            negativeScale = alongAxis(node, negativeScale, latent, (int) axis);
        }
        NDArray threshold = Scalars.times(latent.abs().max(), factor).stopGradient();
        NDArray positive = latent.gt(threshold).toType(DataType.FLOAT32, false);
        NDArray negative = latent.lt(threshold.neg()).toType(DataType.FLOAT32, false);
        NDArray value = positive.mul(positiveScale).sub(negative.mul(negativeScale));
        NDArray straight;
        if (TrainingOperators.PLAIN.equals(node.getString(TrainingOperators.LATENT_GRADIENT, ""))) {
            straight = latent;
        } else {
            NDArray middle = positive.add(negative).neg().add(1f);
            NDArray gain = positive.mul(positiveScale).add(negative.mul(negativeScale)).add(middle).stopGradient();
            straight = latent.mul(gain);
        }
        return new NDArray[] {value.add(straight.sub(straight.stopGradient()))};
    }

    /**
     * LSQ's step size: the scale as it is, its gradient multiplied by {@code 1 / sqrt(N x Qp)} with N the elements of x per
     * scale entry (per sample with {@code samples=1}), counted at every call since the batch may change.
     */
    private static NDArray[] learnedStepSize(ExecutionContext context, OnnxNode node, NDArray[] in) {
        if (in.length < 2 || in[0] == null || in[1] == null) {
            throw node.invalid(TrainingOperators.LEARNED_STEP_SIZE + " needs a scale and the tensor it quantizes");
        }
        NDArray scale = in[0];
        NDArray x = in[1];
        float positiveLevels = node.getFloat(TrainingOperators.POSITIVE_LEVELS, 1f);
        if (!(positiveLevels > 0)) {
            throw node.invalid(TrainingOperators.POSITIVE_LEVELS + " must be positive, got " + positiveLevels);
        }
        double elements = (double) x.size() / Math.max(1, scale.size());
        if (node.getInt(TrainingOperators.SAMPLES, 0) == 1 && x.getShape().dimension() > 0) {
            elements /= Math.max(1, x.getShape().get(0));
        }
        return new NDArray[] {scaledGradient(scale, (float) (1 / Math.sqrt(Math.max(1, elements) * positiveLevels)))};
    }

    /** x as it is, its gradient multiplied element by element by the constant factor (broadcast to x's shape). */
    private static NDArray[] scaledGradient(ExecutionContext context, OnnxNode node, NDArray[] in) {
        if (in.length < 2 || in[0] == null || in[1] == null) {
            throw node.invalid(TrainingOperators.SCALED_GRADIENT + " needs x and a factor");
        }
        NDArray x = in[0];
        return new NDArray[] {valueWithGradientOf(x, x.mul(in[1].stopGradient()))};
    }

    /** A 1-D per-channel scale reshaped to broadcast along {@code axis} of {@code x}. */
    private static NDArray alongAxis(OnnxNode node, NDArray scale, NDArray x, int axis) {
        int rank = x.getShape().dimension();
        if (axis >= rank || scale.getShape().size() != x.getShape().get(axis)) {
            throw node.invalid("per-channel scales of " + scale.getShape().size() + " entries do not fit axis " + axis + " of "
                    + x.getShape());
        }
        long[] shape = new long[rank];
        java.util.Arrays.fill(shape, 1);
        shape[axis] = scale.getShape().size();
        return scale.reshape(new ai.djl.ndarray.types.Shape(shape));
    }

    /** The same value, its gradient multiplied by {@code factor}: {@code x k + stop(x - x k)}. */
    private static NDArray scaledGradient(NDArray x, float factor) {
        return valueWithGradientOf(x, Scalars.times(x, factor));
    }

    /** x's value carrying the gradient of {@code scaled} (x k for a factor k): {@code scaled + stop(x - scaled)}. */
    private static NDArray valueWithGradientOf(NDArray x, NDArray scaled) {
        return scaled.add(x.sub(scaled).stopGradient());
    }
}
