package io.condense.plugin.lowrank;

import static java.util.Objects.requireNonNull;

import java.util.Arrays;
import java.util.List;

/**
 * Ranks across layers for a whole-model parameter budget, in the manner of AIMET's greedy compression-ratio
 * selection: every layer has candidate ranks, each with a score measured with only that layer factorised (kept
 * singular-value energy, or the model's output SQNR on calibration data). A quality threshold {@code t} gives each
 * layer its smallest candidate scoring at least {@code t} (or no factorisation when none does); the total
 * parameter count only falls as {@code t} falls, so a binary search over the measured scores finds the highest
 * threshold whose total fits the budget. Layers whose score drops slowly with rank are therefore cut hardest.
 */
final class GreedySelection {
    private GreedySelection() {
    }

    /**
     * @param chosen per layer, the index of the chosen candidate, or -1 for "left as it is"
     * @param threshold the score threshold found (the lowest score the choices accept)
     * @param parameters total weight parameters of the layers after the choices
     * @param reached whether the total fits the budget (false when even the smallest candidates do not)
     */
    record Result(int[] chosen, double threshold, long parameters, boolean reached) {
    }

    /**
     * @param parametersBefore per layer, its weight parameters now
     * @param candidateParameters per layer, its candidates' parameters (any order)
     * @param scores per layer, its candidates' scores (higher is better; NaN counts as the worst)
     * @param budget the total weight parameters allowed over these layers
     */
    static Result select(long[] parametersBefore, List<long[]> candidateParameters, List<double[]> scores, double budget) {
        requireNonNull(parametersBefore, "parametersBefore is null");
        int layers = parametersBefore.length;
        if (candidateParameters.size() != layers || scores.size() != layers) {
            throw new IllegalArgumentException("need candidates and scores for each of the " + layers + " layers");
        }
        int count = 0;
        for (double[] layerScores : scores) {
            count += layerScores.length;
        }
        double[] thresholds = new double[count];
        int next = 0;
        for (double[] layerScores : scores) {
            for (double score : layerScores) {
                thresholds[next++] = Double.isNaN(score) ? Double.NEGATIVE_INFINITY : score;
            }
        }
        Arrays.sort(thresholds);
        int[] chosen = new int[layers];
        if (count == 0) {
            Arrays.fill(chosen, -1);
            long total = sum(parametersBefore);
            return new Result(chosen, Double.POSITIVE_INFINITY, total, total <= budget);
        }
        // total(thresholds[i]) grows with i: find the largest i whose total fits
        int low = 0;
        int high = count - 1;
        int best = -1;
        while (low <= high) {
            int middle = (low + high) >>> 1;
            if (choose(parametersBefore, candidateParameters, scores, thresholds[middle], chosen) <= budget) {
                best = middle;
                low = middle + 1;
            } else {
                high = middle - 1;
            }
        }
        double threshold = thresholds[Math.max(best, 0)];
        long total = choose(parametersBefore, candidateParameters, scores, threshold, chosen);
        if (best >= 0) {
            total = spendTheRest(parametersBefore, candidateParameters, scores, budget, chosen, total);
        }
        return new Result(chosen, threshold, total, best >= 0);
    }

    /**
     * The threshold search leaves part of the budget unspent (thresholds are discrete). Spend it: while some layer's
     * next larger option (a larger candidate, or no factorisation) fits what is left, upgrade the layer whose current
     * choice scores worst.
     */
    private static long spendTheRest(long[] parametersBefore, List<long[]> candidateParameters, List<double[]> scores, double budget,
            int[] chosen, long total) {
        while (true) {
            int worstLayer = -1;
            int worstUpgrade = -1;
            double worstScore = Double.POSITIVE_INFINITY;
            for (int layer = 0; layer < parametersBefore.length; layer++) {
                if (chosen[layer] < 0) {
                    continue;
                }
                long[] parameters = candidateParameters.get(layer);
                long current = parameters[chosen[layer]];
                int upgrade = -1;
                long upgradeParameters = parametersBefore[layer];
                for (int i = 0; i < parameters.length; i++) {
                    if (parameters[i] > current && parameters[i] < upgradeParameters) {
                        upgrade = i;
                        upgradeParameters = parameters[i];
                    }
                }
                double score = scores.get(layer)[chosen[layer]];
                score = Double.isNaN(score) ? Double.NEGATIVE_INFINITY : score;
                if (total - current + upgradeParameters <= budget && score < worstScore) {
                    worstScore = score;
                    worstLayer = layer;
                    worstUpgrade = upgrade;
                }
            }
            if (worstLayer < 0) {
                return total;
            }
            long[] parameters = candidateParameters.get(worstLayer);
            long current = parameters[chosen[worstLayer]];
            long next = worstUpgrade < 0 ? parametersBefore[worstLayer] : parameters[worstUpgrade];
            total += next - current;
            chosen[worstLayer] = worstUpgrade;
        }
    }

    /** Fills {@code chosen} for one threshold and returns the total parameters. */
    private static long choose(long[] parametersBefore, List<long[]> candidateParameters, List<double[]> scores, double threshold,
            int[] chosen) {
        long total = 0;
        for (int layer = 0; layer < parametersBefore.length; layer++) {
            long[] parameters = candidateParameters.get(layer);
            double[] layerScores = scores.get(layer);
            int pick = -1;
            long smallest = parametersBefore[layer];
            for (int i = 0; i < parameters.length; i++) {
                double score = Double.isNaN(layerScores[i]) ? Double.NEGATIVE_INFINITY : layerScores[i];
                if (score >= threshold && parameters[i] < smallest) {
                    smallest = parameters[i];
                    pick = i;
                }
            }
            chosen[layer] = pick;
            total += smallest;
        }
        return total;
    }

    private static long sum(long[] values) {
        long total = 0;
        for (long value : values) {
            total += value;
        }
        return total;
    }
}
