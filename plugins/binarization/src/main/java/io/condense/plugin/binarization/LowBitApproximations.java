package io.condense.plugin.binarization;

import io.condense.sdk.tensor.ChannelLayout;
import java.util.Arrays;

/**
 * The binary and ternary approximations of one float weight, per output channel. Every method loops over
 * the flat weight in memory order ({@code [outer, channels, inner]}, see {@link ChannelLayout}) and
 * accumulates per-channel sums in double precision; scales are rounded to float before they are used, so
 * residuals and errors are those of the float scales ONNX Runtime multiplies by. Weights must be finite
 * (the caller checks). Zero counts as positive: sign(0) = +1, as in XNOR-Net.
 */
final class LowBitApproximations {
    /** Ridge added to the diagonal of the ABC-Net normal equations, relative to the channel size, for bases that coincide. */
    private static final double RIDGE = 1e-9;

    private LowBitApproximations() {
    }

    /**
     * Binary weights with one scale per channel (BWN, the weights of XNOR-Net): {@code W ~ alpha * sign(W)}
     * with {@code alpha = mean |W|} of the channel, the scale that minimises ||W - alpha B|| for B = sign(W).
     */
    static Approximation binaryWeights(float[] weights, ChannelLayout layout) {
        byte[] levels = new byte[layout.elements()];
        float[] scales = new float[layout.channels()];
        double[] sums = new double[layout.channels()];
        binarize(weights, layout, sums, levels, scales);
        return new Approximation(layout, new byte[][] {levels}, new float[][] {scales});
    }

    /**
     * High-order residual quantization (HORQ): binarize W as BWN does, then binarize what is left
     * ({@code R = W - alpha1 B1}), {@code order} times in all; {@code W ~ sum_k alpha_k B_k}, each basis in
     * {-1, +1} with its own per-channel scale.
     */
    static Approximation residualBinary(float[] weights, ChannelLayout layout, int order) {
        if (order < 1) {
            throw new IllegalArgumentException("order must be at least 1, got " + order);
        }
        byte[][] levels = new byte[order][];
        float[][] scales = new float[order][];
        float[] residual = weights.clone();
        double[] sums = new double[layout.channels()];
        int channels = layout.channels();
        int inner = layout.inner();
        for (int k = 0; k < order; k++) {
            levels[k] = new byte[layout.elements()];
            scales[k] = new float[channels];
            binarize(residual, layout, sums, levels[k], scales[k]);
            if (k + 1 < order) {
                byte[] basis = levels[k];
                float[] basisScales = scales[k];
                int index = 0;
                for (int o = 0; o < layout.outer(); o++) {
                    for (int c = 0; c < channels; c++) {
                        float scale = basisScales[c];
                        for (int end = index + inner; index < end; index++) {
                            residual[index] -= basis[index] * scale;
                        }
                    }
                }
            }
        }
        return new Approximation(layout, levels, scales);
    }

    /**
     * Accurate binary bases (ABC-Net, Lin et al. 2017), per channel: {@code B_i = sign(W - mean(W) + u_i std(W))}
     * with the shifts {@code u_i = -1 + 2 (i - 1) / (M - 1)} spread evenly over [-1, 1] (0 for one basis), then
     * the scales {@code alpha} that minimise ||W - sum_i alpha_i B_i|| (linear least squares, solved from the
     * normal equations). A basis whose fitted scale comes out negative is flipped, so every scale is positive.
     */
    static Approximation multipleBinaryBases(float[] weights, ChannelLayout layout, int bases) {
        if (bases < 1) {
            throw new IllegalArgumentException("bases must be at least 1, got " + bases);
        }
        int channels = layout.channels();
        int inner = layout.inner();
        double count = layout.elementsPerChannel();
        double[] means = new double[channels];
        double[] deviations = new double[channels];
        channelSums(weights, layout, means);
        for (int c = 0; c < channels; c++) {
            means[c] /= count;
        }
        int index = 0;
        for (int o = 0; o < layout.outer(); o++) {
            for (int c = 0; c < channels; c++) {
                double mean = means[c];
                double sum = 0;
                for (int end = index + inner; index < end; index++) {
                    double centred = weights[index] - mean;
                    sum += centred * centred;
                }
                deviations[c] += sum;
            }
        }
        // shifts[c * bases + i]: B_i = sign(w + shift) with shift = -mean + u_i * std
        double[] shifts = new double[channels * bases];
        for (int c = 0; c < channels; c++) {
            double deviation = Math.sqrt(deviations[c] / count);
            for (int i = 0; i < bases; i++) {
                double u = bases == 1 ? 0.0 : -1.0 + 2.0 * i / (bases - 1);
                shifts[c * bases + i] = -means[c] + u * deviation;
            }
        }

        // normal equations per channel: gram[c][i][k] = sum B_i B_k, moments[c][i] = sum B_i w
        double[] gram = new double[channels * bases * bases];
        double[] moments = new double[channels * bases];
        int[] signs = new int[bases];
        index = 0;
        for (int o = 0; o < layout.outer(); o++) {
            for (int c = 0; c < channels; c++) {
                int shiftBase = c * bases;
                int gramBase = c * bases * bases;
                for (int end = index + inner; index < end; index++) {
                    float weight = weights[index];
                    for (int i = 0; i < bases; i++) {
                        signs[i] = weight + shifts[shiftBase + i] >= 0 ? 1 : -1;
                        moments[shiftBase + i] += signs[i] * (double) weight;
                    }
                    for (int i = 0; i < bases; i++) {
                        int row = gramBase + i * bases;
                        int sign = signs[i];
                        for (int k = i; k < bases; k++) {
                            gram[row + k] += sign * signs[k];
                        }
                    }
                }
            }
        }

        float[][] scales = new float[bases][channels];
        boolean[] flipped = new boolean[channels * bases];
        double[] system = new double[bases * (bases + 1)];
        double[] solution = new double[bases];
        for (int c = 0; c < channels; c++) {
            int gramBase = c * bases * bases;
            for (int i = 0; i < bases; i++) {
                for (int k = 0; k < bases; k++) {
                    double value = k >= i ? gram[gramBase + i * bases + k] : gram[gramBase + k * bases + i];
                    system[i * (bases + 1) + k] = value + (i == k ? RIDGE * count : 0.0);
                }
                system[i * (bases + 1) + bases] = moments[c * bases + i];
            }
            solve(system, bases, solution);
            for (int i = 0; i < bases; i++) {
                double alpha = solution[i];
                flipped[c * bases + i] = alpha < 0;
                scales[i][c] = (float) Math.abs(alpha);
            }
        }

        byte[][] levels = new byte[bases][layout.elements()];
        index = 0;
        for (int o = 0; o < layout.outer(); o++) {
            for (int c = 0; c < channels; c++) {
                int shiftBase = c * bases;
                for (int end = index + inner; index < end; index++) {
                    float weight = weights[index];
                    for (int i = 0; i < bases; i++) {
                        boolean positive = weight + shifts[shiftBase + i] >= 0;
                        levels[i][index] = positive != flipped[shiftBase + i] ? (byte) 1 : (byte) -1;
                    }
                }
            }
        }
        return new Approximation(layout, levels, scales);
    }

    /**
     * Ternary weights (TWN, Li and Liu 2016), per channel: threshold {@code delta = factor * mean |W|}, levels
     * {@code sign(W)} where {@code |W| > delta} and 0 elsewhere, scale {@code alpha} the mean magnitude of the
     * kept weights. With a factor below 1 every channel that is not all zero keeps at least one weight.
     */
    static Approximation ternaryWeights(float[] weights, ChannelLayout layout, double thresholdFactor) {
        if (!(thresholdFactor >= 0 && thresholdFactor < 1)) {
            throw new IllegalArgumentException("the threshold factor must be in [0, 1), got " + thresholdFactor);
        }
        int channels = layout.channels();
        int inner = layout.inner();
        double[] thresholds = new double[channels];
        absoluteSums(weights, layout, thresholds);
        for (int c = 0; c < channels; c++) {
            thresholds[c] = thresholdFactor * thresholds[c] / layout.elementsPerChannel();
        }
        double[] keptSums = new double[channels];
        long[] keptCounts = new long[channels];
        byte[] levels = new byte[layout.elements()];
        int index = 0;
        for (int o = 0; o < layout.outer(); o++) {
            for (int c = 0; c < channels; c++) {
                double threshold = thresholds[c];
                double sum = 0;
                long kept = 0;
                for (int end = index + inner; index < end; index++) {
                    float weight = weights[index];
                    float magnitude = Math.abs(weight);
                    if (magnitude > threshold) {
                        sum += magnitude;
                        kept++;
                        levels[index] = weight > 0 ? (byte) 1 : (byte) -1;
                    }
                }
                keptSums[c] += sum;
                keptCounts[c] += kept;
            }
        }
        float[] scales = new float[channels];
        for (int c = 0; c < channels; c++) {
            scales[c] = keptCounts[c] == 0 ? 0f : (float) (keptSums[c] / keptCounts[c]);
        }
        return new Approximation(layout, new byte[][] {levels}, new float[][] {scales});
    }

    /**
     * Trained ternary quantization's starting point (TTQ, Zhu et al. 2017), per layer: threshold
     * {@code delta = factor * max |W|}, the weights above it in a positive basis {0, +1} and those below {@code -delta}
     * in a negative basis {-1, 0}; each basis's scale is the mean magnitude of its weights (the least-squares scale for
     * those masks, 0 for an empty basis), the same value for every channel: {@code finetune} trains the two scales and
     * re-draws the masks from its latent weights.
     */
    static Approximation trainedTernaryWeights(float[] weights, ChannelLayout layout, double thresholdFactor) {
        return trainedTernaryWeights(weights, layout, thresholdFactor, false);
    }

    /**
     * {@link #trainedTernaryWeights(float[], ChannelLayout, double)}, with {@code perChannel} each output channel's scales
     * the means of its own positive and negative weights (the threshold stays the layer's).
     */
    static Approximation trainedTernaryWeights(float[] weights, ChannelLayout layout, double thresholdFactor, boolean perChannel) {
        if (!(thresholdFactor >= 0 && thresholdFactor < 1)) {
            throw new IllegalArgumentException("the threshold factor must be in [0, 1), got " + thresholdFactor);
        }
        checkLength(weights, layout);
        float maximum = 0f;
        for (float weight : weights) {
            maximum = Math.max(maximum, Math.abs(weight));
        }
        double threshold = thresholdFactor * maximum;
        byte[] positive = new byte[weights.length];
        byte[] negative = new byte[weights.length];
        int groups = perChannel ? layout.channels() : 1;
        double[] positiveSums = new double[groups];
        double[] negativeSums = new double[groups];
        long[] positiveCounts = new long[groups];
        long[] negativeCounts = new long[groups];
        for (int j = 0; j < weights.length; j++) {
            float weight = weights[j];
            int group = perChannel ? layout.channelOf(j) : 0;
            if (weight > threshold) {
                positive[j] = 1;
                positiveSums[group] += weight;
                positiveCounts[group]++;
            } else if (weight < -threshold) {
                negative[j] = -1;
                negativeSums[group] -= weight;
                negativeCounts[group]++;
            }
        }
        float[] positiveScales = new float[layout.channels()];
        float[] negativeScales = new float[layout.channels()];
        for (int c = 0; c < layout.channels(); c++) {
            int group = perChannel ? c : 0;
            positiveScales[c] = positiveCounts[group] == 0 ? 0f : (float) (positiveSums[group] / positiveCounts[group]);
            negativeScales[c] = negativeCounts[group] == 0 ? 0f : (float) (negativeSums[group] / negativeCounts[group]);
        }
        return new Approximation(layout, new byte[][] {positive, negative}, new float[][] {positiveScales, negativeScales});
    }

    /** One BWN pass over {@code values}: per-channel mean magnitude into {@code scales}, signs into {@code levels}. */
    private static void binarize(float[] values, ChannelLayout layout, double[] sums, byte[] levels, float[] scales) {
        absoluteSums(values, layout, sums);
        double count = layout.elementsPerChannel();
        for (int c = 0; c < layout.channels(); c++) {
            scales[c] = (float) (sums[c] / count);
        }
        for (int j = 0; j < values.length; j++) {
            levels[j] = values[j] >= 0 ? (byte) 1 : (byte) -1;
        }
    }

    private static void absoluteSums(float[] values, ChannelLayout layout, double[] sums) {
        checkLength(values, layout);
        Arrays.fill(sums, 0.0);
        int channels = layout.channels();
        int inner = layout.inner();
        int index = 0;
        for (int o = 0; o < layout.outer(); o++) {
            for (int c = 0; c < channels; c++) {
                double sum = 0;
                for (int end = index + inner; index < end; index++) {
                    sum += Math.abs(values[index]);
                }
                sums[c] += sum;
            }
        }
    }

    private static void channelSums(float[] values, ChannelLayout layout, double[] sums) {
        checkLength(values, layout);
        Arrays.fill(sums, 0.0);
        int channels = layout.channels();
        int inner = layout.inner();
        int index = 0;
        for (int o = 0; o < layout.outer(); o++) {
            for (int c = 0; c < channels; c++) {
                double sum = 0;
                for (int end = index + inner; index < end; index++) {
                    sum += values[index];
                }
                sums[c] += sum;
            }
        }
    }

    private static void checkLength(float[] values, ChannelLayout layout) {
        if (values.length != layout.elements()) {
            throw new IllegalArgumentException("weight holds " + values.length + " floats but its layout " + layout + " has "
                    + layout.elements());
        }
    }

    /**
     * Solves the {@code size x size} system held row by row in {@code augmented} (each row: coefficients then
     * the right-hand side) by Gaussian elimination with partial pivoting; the system is overwritten.
     */
    static void solve(double[] augmented, int size, double[] solution) {
        int width = size + 1;
        for (int column = 0; column < size; column++) {
            int pivot = column;
            for (int row = column + 1; row < size; row++) {
                if (Math.abs(augmented[row * width + column]) > Math.abs(augmented[pivot * width + column])) {
                    pivot = row;
                }
            }
            if (pivot != column) {
                for (int k = 0; k < width; k++) {
                    double swap = augmented[column * width + k];
                    augmented[column * width + k] = augmented[pivot * width + k];
                    augmented[pivot * width + k] = swap;
                }
            }
            double diagonal = augmented[column * width + column];
            if (diagonal == 0) {
                throw new ArithmeticException("singular system at column " + column);
            }
            for (int row = column + 1; row < size; row++) {
                double factor = augmented[row * width + column] / diagonal;
                if (factor != 0) {
                    for (int k = column; k < width; k++) {
                        augmented[row * width + k] -= factor * augmented[column * width + k];
                    }
                }
            }
        }
        for (int row = size - 1; row >= 0; row--) {
            double value = augmented[row * width + size];
            for (int k = row + 1; k < size; k++) {
                value -= augmented[row * width + k] * solution[k];
            }
            solution[row] = value / augmented[row * width + row];
        }
    }
}
