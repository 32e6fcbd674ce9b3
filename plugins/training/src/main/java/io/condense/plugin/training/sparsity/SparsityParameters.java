package io.condense.plugin.training.sparsity;

import io.condense.sdk.sparsity.NmPattern;
import io.condense.sdk.technique.ParameterProblem;
import io.condense.sdk.technique.ParameterSpec;
import io.condense.sdk.technique.Parameters;
import io.condense.sdk.technique.Range;
import io.condense.sdk.technique.SelectionParameters;
import io.condense.sdk.training.TrainingParameters;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code finetune}'s sparsity parameters: gradual magnitude pruning ({@code sparsity} or {@code pattern} with its schedule)
 * and the sparsity-inducing regularisers ({@code l1}, {@code group_lasso}, {@code slimming}); their specs and the rules
 * across them, for the technique's {@code validate}.
 */
public final class SparsityParameters {
    public static final String SPARSITY = "sparsity";
    public static final String SCHEDULE = "sparsity_schedule";
    public static final String START = "sparsity_start";
    public static final String END = "sparsity_end";
    public static final String FREQUENCY = "sparsity_frequency";
    public static final String SCOPE = "scope";
    public static final String PATTERN = "pattern";
    public static final String L1 = "l1";
    public static final String GROUP_LASSO = "group_lasso";
    public static final String SLIMMING = "slimming";
    /** The share of the epochs over which the sparsity rises when {@code sparsity_end} is not given. */
    public static final double DEFAULT_END_SHARE = 0.5;
    private static final List<String> PRUNING_OPTIONS = List.of(SCHEDULE, START, END, FREQUENCY, SCOPE);

    private SparsityParameters() {
    }

    /** The specs, in the order sparsity, pattern, schedule, start, end, frequency, scope, l1, group_lasso, slimming, exclude, min_elements. */
    public static List<ParameterSpec> specs() {
        return List.of(
                ParameterSpec.doubleParameter(SPARSITY, 0, Range.closedOpen(0, 1),
                        "Gradual magnitude pruning: the share of the selected Conv, Gemm and MatMul weights that is zero at "
                                + "sparsity_end, raised from the model's own sparsity by sparsity_schedule; 0: no pruning."),
                ParameterSpec.stringParameter(PATTERN, "", "Gradual N:M pruning (2:4): at sparsity_end every group of M consecutive "
                        + "input weights keeps at most N non-zeros; excludes sparsity.")
                        .withCheck(text -> text.isBlank() ? null : NmPattern.problem(text)),
                ParameterSpec.choiceParameter(SCHEDULE, SparsitySchedule.AGP, List.of(SparsitySchedule.AGP, SparsitySchedule.LINEAR),
                        "agp: Zhu and Gupta's cubic schedule (fast first, slow near the target); linear: evenly."),
                ParameterSpec.doubleParameter(START, 0, Range.closed(0, 1000), "Epoch (may be fractional) of the first pruning step."),
                ParameterSpec.doubleParameter(END, 0, Range.closed(0, 1000), "Epoch (may be fractional) at which the target is reached; "
                        + "when not given, half the epochs: the rest trains the final masks."),
                ParameterSpec.doubleParameter(FREQUENCY, 0.1, Range.closed(0.001, 1000), "Epochs between mask updates (0.1: ten an "
                        + "epoch); the masks are recomputed from the current magnitudes at each."),
                ParameterSpec.choiceParameter(SCOPE, "global", List.of("global", "layer"), "global: one magnitude threshold over "
                        + "all selected layers, as prune's default; layer: every layer at the sparsity."),
                ParameterSpec.doubleParameter(L1, 0, Range.closed(0, 1), "L1 penalty on the selected weights (its factor): "
                        + "drives single weights to zero; 0: none."),
                ParameterSpec.doubleParameter(GROUP_LASSO, 0, Range.closed(0, 1), "Group lasso on the output filters of the selected "
                        + "layers (factor of the sum of the filters' L2 norms): drives whole filters to zero for "
                        + "prune(structure=channel, criterion=l2); 0: none."),
                ParameterSpec.doubleParameter(SLIMMING, 0, Range.closed(0, 1), "Network slimming: L1 penalty on every "
                        + "BatchNormalization scale (its factor), for prune(structure=channel, criterion=bn_scale); 0: none."),
                SelectionParameters.exclude("Layers that sparsity, pattern, l1 and group_lasso leave alone"),
                SelectionParameters.minElements(256, "Layers whose weight has fewer elements are left alone by sparsity, pattern, l1 "
                        + "and group_lasso (as prune's min_elements)."));
    }

    /**
     * How many times the optimizer's default learning rate gradual pruning trains with when {@code lr} is not given. Gradual
     * pruning is training, not recovery: the network has to reorganise around the weights it loses while it trains (Zhu and
     * Gupta prune during training, at the training rate), and finetune's default rate (0.01 for SGD) is meant for
     * recovering a model near its optimum. Measured on Fashion-MNIST LeNet-300-100 to 97% in 16 epochs (plugins/training
     * README, "Sparsity while training"): lr 0.01 0.8825, 0.03 0.8890, 0.05 0.8895.
     */
    public static final double GRADUAL_RATE_FACTOR = 3;

    /**
     * The training settings, with gradual pruning's default rate ({@link #GRADUAL_RATE_FACTOR} x the optimizer's default)
     * when gradual pruning is asked for and {@code lr} is not given, and no weight decay when gradual pruning or a
     * regulariser is asked for and {@code weight_decay} is not given.
     */
    public static TrainingParameters.Settings settings(TrainingParameters.Settings given, Parameters parameters) {
        TrainingParameters.Settings settings = pruning(parameters) && !parameters.isExplicit(TrainingParameters.LR)
                ? given.withRate(GRADUAL_RATE_FACTOR * given.rate()) : given;
        // gradual pruning and the regularisers bring their own pressure towards zero, and their defaults (rate, penalty
        // strengths) were measured without L2: finetune's default weight decay would shrink the very magnitudes and
        // BatchNormalization scales they rank, so they keep 0 unless weight_decay is given
        return (pruning(parameters) || regularising(parameters)) && !parameters.isExplicit(TrainingParameters.WEIGHT_DECAY)
                ? settings.withWeightDecay(0) : settings;
    }

    /** Whether gradual pruning is asked for (a sparsity above 0 or a pattern). */
    public static boolean pruning(Parameters parameters) {
        return parameters.getDouble(SPARSITY) > 0 || !parameters.getString(PATTERN).isBlank();
    }

    /** Whether any regulariser is asked for. */
    public static boolean regularising(Parameters parameters) {
        return parameters.getDouble(L1) > 0 || parameters.getDouble(GROUP_LASSO) > 0 || parameters.getDouble(SLIMMING) > 0;
    }

    /** The epoch at which the target is reached: {@code sparsity_end}, or half the epochs when not given. */
    public static double end(Parameters parameters) {
        return parameters.isExplicit(END) ? parameters.getDouble(END)
                : DEFAULT_END_SHARE * parameters.getInt(TrainingParameters.EPOCHS);
    }

    /** Every rule across the sparsity parameters (and epochs) that they break. */
    public static List<ParameterProblem> problems(Parameters parameters) {
        List<ParameterProblem> problems = new ArrayList<>();
        boolean pattern = !parameters.getString(PATTERN).isBlank();
        if (!pruning(parameters)) {
            for (String name : PRUNING_OPTIONS) {
                if (parameters.isExplicit(name)) {
                    problems.add(new ParameterProblem(name, parameters.getString(name), "applies only to gradual pruning: give "
                            + "sparsity (for example sparsity=0.9) or pattern (pattern=2:4), or drop " + name));
                }
            }
        }
        if (!pruning(parameters) && !regularising(parameters)) {
            for (String name : List.of(SelectionParameters.EXCLUDE, SelectionParameters.MIN_ELEMENTS)) {
                if (parameters.isExplicit(name)) {
                    problems.add(new ParameterProblem(name, parameters.getString(name), "chooses the layers of sparsity, pattern, l1 "
                            + "and group_lasso, and none of them is given: drop " + name));
                }
            }
        }
        if (pattern && parameters.isExplicit(SPARSITY)) {
            problems.add(new ParameterProblem(SPARSITY, parameters.getString(SPARSITY), "excludes pattern: pattern fixes the "
                    + "sparsity of every pruned layer; give one of pattern and sparsity"));
        }
        if (pattern && parameters.isExplicit(SCOPE) && !parameters.getString(SCOPE).equals("layer")) {
            problems.add(new ParameterProblem(SCOPE, parameters.getString(SCOPE), "must be layer (or left out) with pattern: every "
                    + "group of every layer keeps N of M weights"));
        }
        if (pruning(parameters)) {
            int epochs = parameters.getInt(TrainingParameters.EPOCHS);
            double start = parameters.getDouble(START);
            double end = end(parameters);
            if (end > epochs) {
                problems.add(new ParameterProblem(END, String.valueOf(end), "is after the last epoch (epochs=" + epochs + "): the "
                        + "target would never be reached; give sparsity_end <= " + epochs + " or more epochs"));
            }
            if (start > end) {
                problems.add(new ParameterProblem(START, parameters.getString(START), "is after sparsity_end (" + end + "): pruning "
                        + "must start before it ends; give sparsity_start <= sparsity_end"));
            }
        }
        return problems;
    }
}
