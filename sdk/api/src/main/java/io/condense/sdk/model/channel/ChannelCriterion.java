package io.condense.sdk.model.channel;

import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import java.util.List;
import java.util.Locale;

/**
 * How a channel's importance is measured: the L1 or L2 norm of the filter that produces it, its distance to the
 * other filters (FPGM: filters near the geometric median are the most replaceable), or the magnitude of the
 * BatchNormalization scale that follows it (network slimming). Lower scores are removed first.
 */
public enum ChannelCriterion {
    L1, L2, FPGM, BN_SCALE;

    /** The criteria's parameter names, in declaration order. */
    public static final List<String> NAMES = List.of("l1", "l2", "fpgm", "bn_scale");

    /** The criterion called {@code value} (l1, l2, fpgm, bn_scale). */
    public static ChannelCriterion fromParameter(String value) {
        for (ChannelCriterion criterion : values()) {
            if (criterion.parameterName().equals(value)) {
                return criterion;
            }
        }
        throw new CondenseException(ErrorCode.INVALID_PARAMETER, "unknown criterion '" + value + "': use one of " + NAMES);
    }

    /**
     * Whether one threshold over the scores of different layers means something: BatchNormalization scales multiply
     * normalised activations, so they compare across layers (network slimming thresholds them globally); filter norms grow
     * with a layer's fan-in and FPGM distances with its filter count, so those rank channels within a layer only.
     */
    public boolean comparableAcrossLayers() {
        return this == BN_SCALE;
    }

    /** Its lower-case parameter name. */
    public String parameterName() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** The score of every channel of a weight whose elements all equal {@code value}, {@code size} elements a channel. */
    double uniformScore(float value, long size) {
        return switch (this) {
            case L1 -> Math.abs(value) * (double) size;
            case L2 -> Math.abs(value) * Math.sqrt(size);
            case FPGM -> 0.0;
            case BN_SCALE -> throw new IllegalStateException("bn_scale scores come from BatchNormalization scales, not weights");
        };
    }

    /**
     * Adds each channel's score from one weight to {@code scores}: {@code values} has {@code channels} slices along
     * {@code axis} of {@code shape}.
     */
    void addWeightScores(float[] values, long[] shape, int axis, double[] scores) {
        int channels = Math.toIntExact(shape[axis]);
        if (scores.length != channels) {
            throw new IllegalArgumentException("scores for " + scores.length + " channels, weight has " + channels);
        }
        int outer = Math.toIntExact(ConstantTensor.product(shape, 0, axis));
        int inner = Math.toIntExact(ConstantTensor.product(shape, axis + 1, shape.length));
        int size = outer * inner;
        // gather each channel's filter as a contiguous row
        float[][] filters = new float[channels][size];
        for (int o = 0; o < outer; o++) {
            for (int c = 0; c < channels; c++) {
                System.arraycopy(values, (o * channels + c) * inner, filters[c], o * inner, inner);
            }
        }
        switch (this) {
            case L1 -> {
                for (int c = 0; c < channels; c++) {
                    double sum = 0;
                    for (float value : filters[c]) {
                        sum += Math.abs(value);
                    }
                    scores[c] += sum;
                }
            }
            case L2 -> {
                for (int c = 0; c < channels; c++) {
                    double sum = 0;
                    for (float value : filters[c]) {
                        sum += (double) value * value;
                    }
                    scores[c] += Math.sqrt(sum);
                }
            }
            case FPGM -> {
                // sum of Euclidean distances to every other filter: smallest = closest to the geometric median
                double[] distances = new double[channels];
                for (int a = 0; a < channels; a++) {
                    float[] first = filters[a];
                    for (int b = a + 1; b < channels; b++) {
                        float[] second = filters[b];
                        double sum = 0;
                        for (int i = 0; i < size; i++) {
                            double difference = first[i] - second[i];
                            sum += difference * difference;
                        }
                        double distance = Math.sqrt(sum);
                        distances[a] += distance;
                        distances[b] += distance;
                    }
                }
                for (int c = 0; c < channels; c++) {
                    scores[c] += distances[c];
                }
            }
            case BN_SCALE -> throw new IllegalStateException("bn_scale scores come from BatchNormalization scales, not weights");
        }
    }
}
