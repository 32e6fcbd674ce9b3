package io.condense.server.training;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.Shape;
import io.condense.sdk.data.Dataset;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.training.Loss;
import java.util.List;
import java.util.Map;

/**
 * The teacher's logits of a distillation run, in inference mode (dropout off, batch normalization on its running
 * statistics). The training samples are not augmented, so the teacher's output per sample never changes: when every
 * sample's logits fit in {@link #PRECOMPUTED_LIMIT} values they are computed once before the first epoch and each batch
 * gathers its rows; otherwise the teacher runs on every batch.
 */
final class TeacherLogits {
    /** 64 Mi float values (256 MiB): 60,000 samples of 1,000 classes fit, ImageNet's 1.28 M of 1,000 do not. */
    static final long PRECOMPUTED_LIMIT = 64L << 20;
    private static final int TEACHER_BATCH = 256;

    private final GraphProgram program;
    private final SampleLayout layout;
    private final Map<String, NDArray> initializers;
    private final String output;
    private final int classes;
    private final float[] precomputed;

    private TeacherLogits(GraphProgram program, SampleLayout layout, Map<String, NDArray> initializers, String output, int classes,
            float[] precomputed) {
        this.program = program;
        this.layout = layout;
        this.initializers = initializers;
        this.output = output;
        this.classes = classes;
        this.precomputed = precomputed;
    }

    /**
     * Compiles the teacher, checks that it reads the training samples and has {@code studentClasses} logits per sample,
     * and computes its logits for every sample when they fit.
     */
    static TeacherLogits prepare(Loss.Distillation loss, Dataset trainingData, float inputScale, NDManager manager,
            long studentClasses, long samples, int batchSize) {
        GraphProgram program;
        SampleLayout layout;
        try {
            program = GraphProgram.compile(loss.teacher());
            layout = SampleLayout.of(program, trainingData, inputScale, "training");
        } catch (CondenseException e) {
            throw new CondenseException(e.code(), "the teacher model: " + e.getMessage(), e);
        }
        String output = loss.teacherLogitsOutput().orElse(program.outputNames().get(0));
        if (!program.outputNames().contains(output)) {
            throw new CondenseException(ErrorCode.INVALID_PARAMETER, "the teacher's logits output " + output
                    + " is not one of its graph outputs " + program.outputNames());
        }
        Map<String, NDArray> initializers = program.loadInitializers(manager);
        TeacherLogits teacher = new TeacherLogits(program, layout, initializers, output, 0, null);
        long classes = teacher.run(manager, new int[] {0}, 0, 1).getShape().size();
        if (classes != studentClasses) {
            throw new CondenseException(ErrorCode.INVALID_PARAMETER, "the teacher's logits output " + output + " has " + classes
                    + " values per sample but the trained model's has " + studentClasses
                    + "; distillation needs a teacher and a student over the same classes");
        }
        if (samples * classes > PRECOMPUTED_LIMIT) {
            if (layout.fixedBatch() > 0 && layout.fixedBatch() != batchSize) {
                throw new CondenseException(ErrorCode.INVALID_PARAMETER, "the teacher's input " + layout.inputName()
                        + " has a fixed batch of " + layout.fixedBatch() + " and its logits for " + samples
                        + " samples are too many to compute ahead, so it must run on every batch of " + batchSize
                        + "; export the teacher with a dynamic batch dimension");
            }
            return new TeacherLogits(program, layout, initializers, output, (int) classes, null);
        }
        float[] all = new float[Math.toIntExact(samples * classes)];
        int[] order = SampleLayout.identity(Math.toIntExact(samples));
        int batch = layout.fixedBatch() > 0 ? layout.fixedBatch() : TEACHER_BATCH;
        for (int from = 0; from < order.length; from += batch) {
            int to = Math.min(order.length, from + batch);
            try (NDScope scope = new NDScope()) {
                scope.suppressNotUsedWarning();
                float[] logits = teacher.run(manager, order, from, to).toFloatArray();
                System.arraycopy(logits, 0, all, Math.toIntExact(from * classes), logits.length);
            }
        }
        // the teacher's weights and samples are no longer needed: only its logits are kept
        initializers.values().forEach(NDArray::close);
        return new TeacherLogits(null, null, Map.of(), output, (int) classes, all);
    }

    /** The teacher's logits of the samples {@code order[from, to)}, {@code [to - from, classes]}. */
    NDArray batch(NDManager manager, int[] order, int from, int to) {
        if (precomputed == null) {
            return run(manager, order, from, to);
        }
        float[] rows = new float[(to - from) * classes];
        for (int i = from; i < to; i++) {
            System.arraycopy(precomputed, order[i] * classes, rows, (i - from) * classes, classes);
        }
        return manager.create(rows, new Shape(to - from, classes));
    }

    private NDArray run(NDManager manager, int[] order, int from, int to) {
        ExecutionContext context = new ExecutionContext(manager, false, true, program.opset());
        NDArray x = layout.batch(manager, order, from, to);
        return program.run(context, initializers, Map.of(layout.inputName(), x), List.of(output)).get(output).reshape(to - from, -1);
    }
}
