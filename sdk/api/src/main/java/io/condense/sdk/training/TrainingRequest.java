package io.condense.sdk.training;

import static java.util.Objects.requireNonNull;

import io.condense.sdk.data.Dataset;
import io.condense.sdk.data.NdArray;
import io.condense.sdk.model.OnnxModel;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.BooleanSupplier;

/**
 * What to train and how. Build one with {@link #builder(OnnxModel, Dataset)}.
 *
 * @param model the model; never changed (the result holds a new one)
 * @param trainingData samples along the first axis with one integer class label each; each sample is reshaped to
 *     the model's input shape without its batch dimension when the element counts agree (a [N,28,28] uint8 set
 *     feeds a [batch,1,28,28] float input)
 * @param validationData measured after every epoch in inference mode, if present (labels required)
 * @param inputScale every input value is multiplied by this (1/255 for pixels a model expects in [0, 1])
 * @param loss what is minimised
 * @param optimizer SGD with momentum or Adam
 * @param schedule the learning rate of each batch
 * @param epochs passes over the training data
 * @param batchSize samples per step; the last, smaller batch of an epoch is used too
 * @param seed makes runs repeatable: the shuffling, dropout and anything else random derive from it
 * @param trainable the initializers to train; empty means the default: every float32 initializer that is not
 *     a shape, a batch-normalization running statistic, a quantization scale or zero point, a Clip bound or a
 *     Dropout ratio (so weights, biases and batch-normalization scale and shift)
 * @param gradientMasks per initializer name, a float mask of the initializer's shape: elements where the mask is 0
 *     are never changed (neither by gradients nor by weight decay or momentum), others are updated with their
 *     gradient multiplied by the mask
 * @param freezeZeros when true, every trained initializer's elements that are exactly 0 at the start stay 0 (a
 *     pruned model keeps its sparsity), as if masked
 * @param frozenBatchNormStatistics when true, batch normalization uses and keeps its running statistics while
 *     training; when false (default) it normalises with the batch's statistics and updates the running ones with
 *     the node's momentum, as PyTorch does
 * @param logitsOutput the graph output the loss reads; empty means the first graph output
 * @param listener told about every batch and epoch
 * @param cancelled checked between batches; when it returns true training stops with {@code CANCELLED}
 * @param regularizers sparsity-inducing penalties whose gradients are added to their initializers' (empty: none)
 * @param maskUpdates masks recomputed while training (gradual pruning), if any
 */
public record TrainingRequest(
        OnnxModel model,
        Dataset trainingData,
        Optional<Dataset> validationData,
        float inputScale,
        Loss loss,
        Optimizer optimizer,
        LearningRateSchedule schedule,
        int epochs,
        int batchSize,
        long seed,
        Optional<Set<String>> trainable,
        Map<String, NdArray> gradientMasks,
        boolean freezeZeros,
        boolean frozenBatchNormStatistics,
        Optional<String> logitsOutput,
        TrainingListener listener,
        BooleanSupplier cancelled,
        List<Regularizer> regularizers,
        Optional<MaskUpdates> maskUpdates) {

    public TrainingRequest {
        regularizers = List.copyOf(regularizers == null ? List.of() : regularizers);
        maskUpdates = maskUpdates == null ? Optional.empty() : maskUpdates;
        requireNonNull(model, "model is null");
        requireNonNull(trainingData, "trainingData is null");
        validationData = validationData == null ? Optional.empty() : validationData;
        requireNonNull(loss, "loss is null");
        requireNonNull(optimizer, "optimizer is null");
        requireNonNull(schedule, "schedule is null");
        trainable = trainable == null ? Optional.empty() : trainable.map(names -> Set.copyOf(new LinkedHashSet<>(names)));
        gradientMasks = Map.copyOf(gradientMasks == null ? Map.of() : gradientMasks);
        logitsOutput = logitsOutput == null ? Optional.empty() : logitsOutput;
        requireNonNull(listener, "listener is null");
        requireNonNull(cancelled, "cancelled is null");
        if (trainingData.labels().isEmpty()) {
            throw new IllegalArgumentException("trainingData needs labels");
        }
        validationData.ifPresent(v -> {
            if (v.labels().isEmpty()) {
                throw new IllegalArgumentException("validationData needs labels");
            }
        });
        if (!(inputScale > 0) || Float.isInfinite(inputScale)) {
            throw new IllegalArgumentException("inputScale must be positive and finite, got " + inputScale);
        }
        if (epochs <= 0) {
            throw new IllegalArgumentException("epochs must be positive, got " + epochs);
        }
        if (batchSize <= 0) {
            throw new IllegalArgumentException("batchSize must be positive, got " + batchSize);
        }
    }

    public static Builder builder(OnnxModel model, Dataset trainingData) {
        return new Builder(model, trainingData);
    }

    /** A builder starting from SGD with momentum 0.9, a constant rate of 0.01, one epoch, batches of 64, seed 42. */
    public static final class Builder {
        private final OnnxModel model;
        private final Dataset trainingData;
        private Optional<Dataset> validationData = Optional.empty();
        private float inputScale = 1f;
        private Loss loss = Loss.crossEntropy();
        private Optimizer optimizer = Optimizer.sgd(0.9, 0);
        private LearningRateSchedule schedule = LearningRateSchedule.constant(0.01);
        private int epochs = 1;
        private int batchSize = 64;
        private long seed = 42;
        private Optional<Set<String>> trainable = Optional.empty();
        private final Map<String, NdArray> gradientMasks = new LinkedHashMap<>();
        private boolean freezeZeros;
        private boolean frozenBatchNormStatistics;
        private Optional<String> logitsOutput = Optional.empty();
        private TrainingListener listener = TrainingListener.none();
        private BooleanSupplier cancelled = () -> false;
        private final List<Regularizer> regularizers = new ArrayList<>();
        private Optional<MaskUpdates> maskUpdates = Optional.empty();

        private Builder(OnnxModel model, Dataset trainingData) {
            this.model = requireNonNull(model, "model is null");
            this.trainingData = requireNonNull(trainingData, "trainingData is null");
        }

        public Builder validationData(Dataset data) {
            this.validationData = Optional.of(data);
            return this;
        }

        public Builder inputScale(float scale) {
            this.inputScale = scale;
            return this;
        }

        public Builder loss(Loss value) {
            this.loss = value;
            return this;
        }

        public Builder optimizer(Optimizer value) {
            this.optimizer = value;
            return this;
        }

        public Builder schedule(LearningRateSchedule value) {
            this.schedule = value;
            return this;
        }

        public Builder epochs(int value) {
            this.epochs = value;
            return this;
        }

        public Builder batchSize(int value) {
            this.batchSize = value;
            return this;
        }

        public Builder seed(long value) {
            this.seed = value;
            return this;
        }

        public Builder trainable(Set<String> names) {
            this.trainable = Optional.of(names);
            return this;
        }

        public Builder gradientMask(String initializer, NdArray mask) {
            this.gradientMasks.put(requireNonNull(initializer, "initializer is null"), requireNonNull(mask, "mask is null"));
            return this;
        }

        public Builder freezeZeros(boolean value) {
            this.freezeZeros = value;
            return this;
        }

        public Builder frozenBatchNormStatistics(boolean value) {
            this.frozenBatchNormStatistics = value;
            return this;
        }

        public Builder logitsOutput(String outputName) {
            this.logitsOutput = Optional.of(outputName);
            return this;
        }

        public Builder listener(TrainingListener value) {
            this.listener = value;
            return this;
        }

        /** For a technique: {@code .cancelled(context::isCancelled)}. */
        public Builder cancelled(BooleanSupplier value) {
            this.cancelled = value;
            return this;
        }

        /** Adds a sparsity-inducing penalty. */
        public Builder regularizer(Regularizer value) {
            this.regularizers.add(requireNonNull(value, "regularizer is null"));
            return this;
        }

        /** Masks recomputed while training (gradual pruning). */
        public Builder maskUpdates(MaskUpdates value) {
            this.maskUpdates = Optional.of(value);
            return this;
        }

        public TrainingRequest build() {
            return new TrainingRequest(model, trainingData, validationData, inputScale, loss, optimizer, schedule, epochs,
                    batchSize, seed, trainable, gradientMasks, freezeZeros, frozenBatchNormStatistics, logitsOutput, listener,
                    cancelled, regularizers, maskUpdates);
        }
    }
}
