package io.condense.sdk.training;

import java.util.Map;
import java.util.Set;

/**
 * Masks that change while training (gradual pruning): before a batch for which {@link #due} says so, the trainer reads the
 * current values of {@link #initializers()}, asks for new masks, sets every masked element to zero and holds it there
 * (no gradient, weight decay or momentum moves it) until the next update. The masks combine with the request's gradient
 * masks and {@code freezeZeros}: an element frozen by either stays frozen.
 */
public interface MaskUpdates {

    /** The initializers masked; each must be trained. */
    Set<String> initializers();

    /**
     * Whether new masks are due before this batch.
     *
     * @param epoch 0-based epoch
     * @param batch 0-based batch within the epoch
     * @param batches batches per epoch
     */
    boolean due(int epoch, int batch, int batches);

    /**
     * The new masks, from the current values.
     *
     * @param weights per initializer of {@link #initializers()}, its current values (flat, row-major)
     * @return per initializer, a mask of the same length: 0 where the element is pruned, 1 where it trains
     */
    Map<String, float[]> masks(Map<String, float[]> weights, int epoch, int batch, int batches);
}
