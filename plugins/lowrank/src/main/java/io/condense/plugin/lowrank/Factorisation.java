package io.condense.plugin.lowrank;

import static java.util.Objects.requireNonNull;

import io.condense.sdk.model.ModelEditor;
import io.condense.sdk.model.WeightLayer;
import io.condense.sdk.tensor.Tensor;
import java.util.List;

/**
 * One weight layer that can be factorised: its decomposition, the ranks a {@link RankRule} gives, the candidate
 * ranks for a whole-model budget, and how the factorised layer is written into the graph.
 */
abstract sealed class Factorisation permits MatrixFactorisation, TuckerFactorisation {
    /** Parameter ratios tried per layer when the ranks are chosen across layers ({@code selection=greedy}). */
    static final double[] CANDIDATE_RATIOS = {0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9};

    final WeightLayer layer;
    final Tensor weight;
    /** MACs of the original node (0 when its shapes are unknown). */
    final long macsBefore;

    Factorisation(WeightLayer layer, Tensor weight, long macsBefore) {
        this.layer = requireNonNull(layer, "layer is null");
        this.weight = requireNonNull(weight, "weight is null");
        this.macsBefore = macsBefore;
    }

    final String name() {
        return layer.displayName();
    }

    final long parametersBefore() {
        return weight.elementCount();
    }

    /** How the layer is factorised: svd, svd_pointwise, spatial_svd or tucker2. */
    abstract String scheme();

    /** The largest rank {@code rank=R} may ask for. */
    abstract int maxRank();

    /** The matrix or unfolding that is decomposed, in words, for messages ("matrix 320 x 50"). */
    abstract String decomposedShape();

    /** Computes the singular vectors a rule (or, with {@code forCandidates}, the greedy search) needs. */
    abstract void decompose(RankRule rule, boolean forCandidates, SvdSolver solver);

    /** "full" or "randomized" once decomposed. */
    abstract String solverUsed();

    abstract Selection select(RankRule rule);

    /** Candidate ranks for the whole-model search, each smaller than the original layer; may be empty. */
    abstract List<Choice> candidates();

    /** Replaces the layer's node by its factorised nodes in the edit. */
    abstract Written write(ModelEditor editor, Choice choice, long opset);
}
