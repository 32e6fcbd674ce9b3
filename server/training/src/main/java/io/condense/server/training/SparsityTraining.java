package io.condense.server.training;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.training.MaskUpdates;
import io.condense.sdk.training.Regularizer;
import io.condense.sdk.training.TrainingRequest;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.UnaryOperator;

/**
 * A request's sparsity hooks on the trainer's loop: the gradients of its {@link Regularizer}s (added to each initializer's
 * gradient by {@link ParameterUpdate}) and its {@link MaskUpdates} (new masks pushed into the updates before a batch).
 */
final class SparsityTraining {
    /** Keeps a group of zeros from dividing by a zero norm: its group-lasso gradient is then 0. */
    private static final float NORM_FLOOR = 1e-12f;

    private final MaskUpdates masks;
    private final Map<String, NDArray> weights;
    private final Map<String, ParameterUpdate> updates;
    private final NDManager manager;

    private SparsityTraining(MaskUpdates masks, Map<String, NDArray> weights, Map<String, ParameterUpdate> updates, NDManager manager) {
        this.masks = masks;
        this.weights = weights;
        this.updates = updates;
        this.manager = manager;
    }

    /** Refuses regularizers and masks of initializers that are not trained, naming them. */
    static void check(TrainingRequest request, Set<String> trainable) {
        List<String> problems = new ArrayList<>();
        for (Regularizer regularizer : request.regularizers()) {
            for (String name : regularizer.targets()) {
                if (!trainable.contains(name)) {
                    problems.add(regularizer.getClass().getSimpleName() + " of " + name + ", which is not trained");
                }
            }
        }
        request.maskUpdates().ifPresent(updates -> updates.initializers().stream().filter(name -> !trainable.contains(name))
                .forEach(name -> problems.add("masks of " + name + ", which is not trained")));
        if (!problems.isEmpty()) {
            throw new CondenseException(ErrorCode.INVALID_PARAMETER, "bad sparsity hooks: " + String.join("; ", problems));
        }
    }

    /** The sum of the request's penalty gradients for {@code name}, or null when no regularizer reads it. */
    static UnaryOperator<NDArray> penaltyGradient(TrainingRequest request, String name) {
        List<UnaryOperator<NDArray>> terms = new ArrayList<>();
        for (Regularizer regularizer : request.regularizers()) {
            float strength = (float) regularizer.strength();
            if (regularizer instanceof Regularizer.L1 l1 && l1.initializers().contains(name)) {
                terms.add(w -> w.sign().muli(strength));
            } else if (regularizer instanceof Regularizer.GroupLasso lasso && lasso.outputAxes().containsKey(name)) {
                int axis = lasso.outputAxes().get(name);
                terms.add(w -> w.div(channelNorms(w, axis)).muli(strength));
            }
        }
        if (terms.isEmpty()) {
            return null;
        }
        return w -> {
            NDArray sum = terms.get(0).apply(w);
            for (int i = 1; i < terms.size(); i++) {
                sum = sum.add(terms.get(i).apply(w));
            }
            return sum;
        };
    }

    /** The L2 norm of every slice along {@code axis}, kept as a broadcastable array (at least {@link #NORM_FLOOR}). */
    private static NDArray channelNorms(NDArray w, int axis) {
        int rank = w.getShape().dimension();
        int[] others = new int[rank - 1];
        for (int i = 0, j = 0; i < rank; i++) {
            if (i != axis) {
                others[j++] = i;
            }
        }
        return w.square().sum(others, true).sqrt().maximum(NORM_FLOOR);
    }

    /** The mask hook of a request on the trainer's arrays, or null when it has none. */
    static SparsityTraining masks(TrainingRequest request, Map<String, NDArray> initializers, Map<String, ParameterUpdate> updates,
            NDManager manager) {
        MaskUpdates masks = request.maskUpdates().orElse(null);
        if (masks == null) {
            return null;
        }
        Map<String, NDArray> weights = new LinkedHashMap<>();
        for (String name : masks.initializers()) {
            weights.put(name, initializers.get(name));
        }
        return new SparsityTraining(masks, weights, updates, manager);
    }

    /** Before a batch: when masks are due, reads the weights, asks for masks and applies them. Call outside a per-batch scope. */
    void beforeBatch(int epoch, int batch, int batches) {
        if (!masks.due(epoch, batch, batches)) {
            return;
        }
        Map<String, float[]> current = new LinkedHashMap<>();
        weights.forEach((name, weight) -> current.put(name, weight.toFloatArray()));
        Map<String, float[]> next = masks.masks(current, epoch, batch, batches);
        next.forEach((name, mask) -> {
            NDArray weight = weights.get(name);
            if (weight == null || mask.length != current.get(name).length) {
                throw new IllegalStateException("mask of " + name + " does not match a masked initializer");
            }
            updates.get(name).remask(manager.create(mask, weight.getShape()));
        });
    }
}
