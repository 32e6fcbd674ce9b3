package io.condense.server.training;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.condense.sdk.data.Dataset;
import io.condense.sdk.data.NdArray;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import java.util.Arrays;

/**
 * A data set laid out for the model's single input: every sample's values as float32 (scaled), its shape without
 * the batch dimension, and the labels.
 */
final class SampleLayout {
    private final String inputName;
    private final long[] sampleShape;
    private final int sampleSize;
    private final float[] values;
    private final long[] labels;
    private final int fixedBatch;

    private SampleLayout(String inputName, long[] sampleShape, float[] values, long[] labels, int fixedBatch) {
        this.inputName = inputName;
        this.fixedBatch = fixedBatch;
        this.sampleShape = sampleShape;
        this.sampleSize = Math.toIntExact(NdArray.elementCount(sampleShape));
        this.values = values;
        this.labels = labels;
    }

    static SampleLayout of(GraphProgram program, Dataset data, float scale, String role) {
        if (program.inputNames().size() != 1) {
            throw new CondenseException(ErrorCode.INVALID_DATA, "the model has " + program.inputNames().size() + " inputs "
                    + program.inputNames() + "; training and accuracy need a model with exactly one input");
        }
        String input = program.inputNames().get(0);
        long[] declared = program.inputShape(input);
        long[] dataShape = data.inputs().shape();
        long[] dataSample = Arrays.copyOfRange(dataShape, 1, dataShape.length);
        long dataSampleSize = NdArray.elementCount(dataSample);
        long[] sampleShape;
        long[] declaredSample = declared.length == 0 ? new long[0] : Arrays.copyOfRange(declared, 1, declared.length);
        boolean known = declared.length > 0 && Arrays.stream(declaredSample).allMatch(d -> d > 0);
        if (known && NdArray.elementCount(declaredSample) == dataSampleSize) {
            sampleShape = declaredSample;
        } else if (!known && declared.length == dataShape.length && matchesKnown(declaredSample, dataSample)) {
            sampleShape = dataSample;
        } else {
            throw new CondenseException(ErrorCode.INVALID_DATA, "the " + role + " samples have shape " + Arrays.toString(dataSample)
                    + " but the model's input " + input + " is " + Arrays.toString(declared)
                    + " (batch first); give samples with as many values as one input (or the same shape)");
        }
        float[] raw = data.inputs().toFloatArray();
        float[] values = new float[raw.length];
        for (int i = 0; i < raw.length; i++) {
            values[i] = raw[i] * scale;
        }
        long[] labels = data.labels().map(NdArray::toLongArray).orElse(null);
        if (labels != null && labels.length != data.size()) {
            throw new CondenseException(ErrorCode.INVALID_DATA, "the " + role + " labels must hold one class per sample: "
                    + labels.length + " labels for " + data.size() + " samples");
        }
        int fixedBatch = declared.length > 0 && declared[0] > 0 ? Math.toIntExact(declared[0]) : 0;
        return new SampleLayout(input, sampleShape, values, labels, fixedBatch);
    }

    private static boolean matchesKnown(long[] declared, long[] actual) {
        for (int i = 0; i < declared.length; i++) {
            if (declared[i] > 0 && declared[i] != actual[i]) {
                return false;
            }
        }
        return true;
    }

    /** The batch size the model's input declares, or 0 when its first dimension is dynamic. */
    int fixedBatch() {
        return fixedBatch;
    }

    String inputName() {
        return inputName;
    }

    int size() {
        return values.length / sampleSize;
    }

    long label(int sample) {
        return labels[sample];
    }

    /** The samples {@code order[from, to)} as one [batch, ...sample] float32 array. */
    NDArray batch(NDManager manager, int[] order, int from, int to) {
        int count = to - from;
        float[] batch = new float[count * sampleSize];
        for (int i = 0; i < count; i++) {
            System.arraycopy(values, order[from + i] * sampleSize, batch, i * sampleSize, sampleSize);
        }
        long[] shape = new long[sampleShape.length + 1];
        shape[0] = count;
        System.arraycopy(sampleShape, 0, shape, 1, sampleShape.length);
        return manager.create(batch, new Shape(shape));
    }

    /** The labels of {@code order[from, to)} as int64. */
    NDArray batchLabels(NDManager manager, int[] order, int from, int to) {
        long[] batch = new long[to - from];
        for (int i = 0; i < batch.length; i++) {
            batch[i] = labels[order[from + i]];
        }
        return manager.create(batch);
    }

    /** Labels must be classes of the logits. */
    void checkLabels(long classes, String role) {
        for (int i = 0; i < labels.length; i++) {
            if (labels[i] < 0 || labels[i] >= classes) {
                throw new CondenseException(ErrorCode.INVALID_DATA, "the " + role + " label of sample " + i + " is " + labels[i]
                        + " but the model's logits have " + classes + " classes (labels must be in [0, " + classes + "))");
            }
        }
    }

    static int[] identity(int size) {
        int[] order = new int[size];
        for (int i = 0; i < size; i++) {
            order[i] = i;
        }
        return order;
    }
}
