package io.condense.server.training;

import ai.djl.ndarray.NDArray;
import io.condense.sdk.training.Optimizer;

/**
 * The optimizer step of one trained initializer, as PyTorch's {@code torch.optim.SGD} and {@code torch.optim.Adam}
 * define it (weight decay added to the gradient), in place on the weight. State arrays are made once, outside any
 * per-batch scope. Elements where the mask is 0 never change; the gradient is multiplied by the mask.
 */
final class ParameterUpdate {
    private final NDArray weight;
    private final NDArray mask;
    private final Optimizer optimizer;
    private final NDArray firstMoment;
    private final NDArray secondMoment;
    private long steps;

    ParameterUpdate(NDArray weight, NDArray maskOrNull, Optimizer optimizer) {
        this.weight = weight;
        this.mask = maskOrNull;
        this.optimizer = optimizer;
        boolean needsMomentum = optimizer instanceof Optimizer.Adam || ((Optimizer.Sgd) optimizer).momentum() > 0;
        this.firstMoment = needsMomentum ? weight.zerosLike() : null;
        this.secondMoment = optimizer instanceof Optimizer.Adam ? weight.zerosLike() : null;
    }

    /** Applies one step with the gradient currently accumulated on the weight, then zeroes that gradient. Call inside an NDScope. */
    void step(double learningRate) {
        NDArray gradient = weight.getGradient();
        NDArray g = mask == null ? gradient : gradient.mul(mask);
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
}
