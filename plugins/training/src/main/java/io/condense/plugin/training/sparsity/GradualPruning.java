package io.condense.plugin.training.sparsity;

import io.condense.sdk.sparsity.MagnitudeMasks;
import io.condense.sdk.sparsity.MagnitudeThreshold;
import io.condense.sdk.sparsity.NmPattern;
import io.condense.sdk.sparsity.WeightMatrix;
import io.condense.sdk.training.MaskUpdates;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Gradual magnitude pruning (Zhu and Gupta, 2017) as the trainer's {@link MaskUpdates}: at every pruning step of the
 * {@link SparsitySchedule} the masks are recomputed from the current magnitudes with {@code prune}'s own code (the SDK's
 * {@link MagnitudeThreshold} and {@link MagnitudeMasks}): one threshold over all layers ({@code global}), the same sparsity
 * in every layer ({@code layer}), or an N:M pattern reached gradually. Between steps the trainer holds the pruned weights at
 * zero. Weights pruned at one step may come back at the next if they were pruned for being small and others became
 * smaller; the sparsity never falls.
 */
public final class GradualPruning implements MaskUpdates {
    /** One pruned weight: its initializer and, for N:M patterns, its matrix view. */
    public record Layer(String name, WeightMatrix matrix, int elements) {
    }

    private final List<Layer> layers;
    private final SparsitySchedule schedule;
    private final boolean global;
    private final NmPattern pattern;
    private volatile double current;
    private long updates;

    /**
     * @param global one magnitude threshold over all layers (else the sparsity in every layer); ignored with a pattern
     * @param pattern the N:M pattern reached at the end, or null
     */
    public GradualPruning(List<Layer> layers, SparsitySchedule schedule, boolean global, NmPattern pattern) {
        this.layers = List.copyOf(layers);
        this.schedule = schedule;
        this.global = global;
        this.pattern = pattern;
        this.current = schedule.initial();
    }

    @Override
    public Set<String> initializers() {
        Set<String> names = new LinkedHashSet<>();
        layers.forEach(layer -> names.add(layer.name()));
        return names;
    }

    @Override
    public boolean due(int epoch, int batch, int batches) {
        return schedule.due((long) epoch * batches + batch);
    }

    @Override
    public Map<String, float[]> masks(Map<String, float[]> weights, int epoch, int batch, int batches) {
        double sparsity = schedule.sparsityAt((long) epoch * batches + batch);
        Map<String, float[]> pruned = new LinkedHashMap<>();
        if (pattern != null) {
            double progress = schedule.target() > schedule.initial()
                    ? (sparsity - schedule.initial()) / (schedule.target() - schedule.initial()) : 1;
            for (Layer layer : layers) {
                pruned.put(layer.name(), towardsPattern(weights.get(layer.name()), layer.matrix(), progress));
            }
        } else if (global) {
            pruned.putAll(globally(weights, sparsity));
        } else {
            for (Layer layer : layers) {
                pruned.put(layer.name(), MagnitudeMasks.magnitude(weights.get(layer.name()), sparsity));
            }
        }
        Map<String, float[]> masks = new LinkedHashMap<>();
        long zeros = 0;
        long total = 0;
        for (Map.Entry<String, float[]> entry : pruned.entrySet()) {
            float[] values = entry.getValue();
            float[] mask = new float[values.length];
            for (int i = 0; i < values.length; i++) {
                mask[i] = values[i] != 0f ? 1f : 0f;
                zeros += values[i] == 0f ? 1 : 0;
            }
            total += values.length;
            masks.put(entry.getKey(), mask);
        }
        current = total == 0 ? 0 : (double) zeros / total;
        updates++;
        return masks;
    }

    /** One magnitude threshold over every layer, zeroing round(sparsity x all weights) of them: prune's global scope. */
    private Map<String, float[]> globally(Map<String, float[]> weights, double sparsity) {
        int[][] bits = new int[layers.size()][];
        long total = 0;
        for (int i = 0; i < layers.size(); i++) {
            float[] values = weights.get(layers.get(i).name());
            bits[i] = new int[values.length];
            for (int j = 0; j < values.length; j++) {
                bits[i][j] = Float.floatToRawIntBits(values[j]);
            }
            total += values.length;
        }
        MagnitudeThreshold.Threshold threshold = new MagnitudeThreshold().find(bits, Math.round(sparsity * total));
        long ties = threshold.ties();
        Map<String, float[]> pruned = new LinkedHashMap<>();
        for (int i = 0; i < layers.size(); i++) {
            byte[] out = new byte[bits[i].length * 4];
            ties -= MagnitudeThreshold.apply(bits[i], threshold.bits(), ties, out).tiesUsed();
            float[] values = new float[bits[i].length];
            ByteBuffer.wrap(out).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(values);
            pruned.put(layers.get(i).name(), values);
        }
        return pruned;
    }

    /**
     * On the way to an N:M pattern: of the weights the full pattern would remove now (all but the N largest of every group),
     * the {@code progress} share with the smallest magnitudes; at progress 1, exactly the pattern.
     */
    private float[] towardsPattern(float[] weights, WeightMatrix matrix, double progress) {
        float[] full = MagnitudeMasks.magnitudePattern(weights, matrix, pattern);
        if (progress >= 1) {
            return full;
        }
        int candidates = 0;
        for (int i = 0; i < weights.length; i++) {
            candidates += full[i] == 0f ? 1 : 0;
        }
        float[] values = new float[candidates];
        int[] positions = new int[candidates];
        for (int i = 0, next = 0; i < weights.length; i++) {
            if (full[i] == 0f) {
                values[next] = weights[i];
                positions[next++] = i;
            }
        }
        float[] prunedCandidates = MagnitudeMasks.magnitude(values, Math.max(0, progress));
        float[] result = weights.clone();
        for (int k = 0; k < candidates; k++) {
            result[positions[k]] = prunedCandidates[k];
        }
        return result;
    }

    /** The sparsity the masks had after the last update (the initial sparsity before the first). */
    public double currentSparsity() {
        return current;
    }

    /** Mask updates so far. */
    public long updates() {
        return updates;
    }

    public SparsitySchedule schedule() {
        return schedule;
    }

    public List<Layer> layers() {
        return layers;
    }
}
