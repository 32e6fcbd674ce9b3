package io.condense.server.training;

import ai.djl.ndarray.NDArray;
import io.condense.sdk.training.Optimizer;
import java.util.function.UnaryOperator;

/**
 * The optimizer step of one trained initializer, as PyTorch's {@code torch.optim.SGD} and {@code torch.optim.Adam}
 * define it (weight decay added to the gradient), in place on the weight. State arrays are made once, outside any
 * per-batch scope. Elements where the mask is 0 never change; the gradient is multiplied by the mask.
 */
final class ParameterUpdate {
    private final NDArray weight;
    private final NDArray baseMask;
    private final Optimizer optimizer;
    private final UnaryOperator<NDArray> penaltyGradient;
    private NDArray mask;
    private final NDArray firstMoment;
    private final NDArray secondMoment;
    private long steps;

    ParameterUpdate(NDArray weight, NDArray maskOrNull, Optimizer optimizer) {
        this(weight, maskOrNull, optimizer, null);
    }

    /** @param penaltyGradientOrNull the gradient of a regularizer at the current weight, added to the loss's (or null) */
    ParameterUpdate(NDArray weight, NDArray maskOrNull, Optimizer optimizer, UnaryOperator<NDArray> penaltyGradientOrNull) {
        this.weight = weight;
        this.baseMask = maskOrNull;
        this.mask = maskOrNull;
        this.optimizer = optimizer;
        this.penaltyGradient = penaltyGradientOrNull;
        boolean needsMomentum = optimizer instanceof Optimizer.Adam || ((Optimizer.Sgd) optimizer).momentum() > 0;
        this.firstMoment = needsMomentum ? weight.zerosLike() : null;
        this.secondMoment = optimizer instanceof Optimizer.Adam ? weight.zerosLike() : null;
    }

    /** Applies one step with the gradient currently accumulated on the weight, then zeroes that gradient. Call inside an NDScope. */
    void step(double learningRate) {
        NDArray gradient = weight.getGradient();
        NDArray g = mask == null ? gradient : gradient.mul(mask);
        if (penaltyGradient != null) {
            g = g.add(penaltyGradient.apply(weight));
        }
        double weightDecay = optimizer.weightDecay();
        if (weightDecay > 0) {
            g = g.add(weight.mul(weightDecay));
        }
        NDArray update;
        steps++;
        if (optimizer instanceof Optimizer.Sgd sgd) {
            if (sgd.momentum() > 0) {
                if (steps == 1) {
                    firstMoment.addi(g);
                } else {
                    firstMoment.muli(sgd.momentum()).addi(g);
                }
                update = firstMoment.mul(learningRate);
            } else {
                update = g.mul(learningRate);
            }
        } else {
            Optimizer.Adam adam = (Optimizer.Adam) optimizer;
            firstMoment.muli(adam.beta1()).addi(g.mul(1 - adam.beta1()));
            secondMoment.muli(adam.beta2()).addi(g.square().muli(1 - adam.beta2()));
            double correction1 = 1 - Math.pow(adam.beta1(), steps);
            double correction2 = 1 - Math.pow(adam.beta2(), steps);
            NDArray denominator = secondMoment.sqrt().divi(Math.sqrt(correction2)).addi(adam.epsilon());
            update = firstMoment.div(denominator).muli(learningRate / correction1);
        }
        if (mask != null) {
            update = update.mul(mask);
        }
        weight.subi(update);
        gradient.subi(gradient);
    }

    /**
     * Replaces the changing part of the mask (gradual pruning): the weight and its momentum are zeroed where {@code pruned}
     * is 0 and stay so until the next call; the constructor's mask still applies. Call outside any per-batch scope: the
     * mask is kept.
     */
    void remask(NDArray pruned) {
        NDArray combined = baseMask == null ? pruned : baseMask.mul(pruned);
        if (mask != null && mask != baseMask) {
            mask.close();
        }
        mask = combined;
        weight.muli(mask);
        if (firstMoment != null) {
            firstMoment.muli(mask);
        }
        if (secondMoment != null) {
            secondMoment.muli(mask);
        }
    }
}
