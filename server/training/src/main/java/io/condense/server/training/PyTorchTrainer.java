package io.condense.server.training;

import static java.util.Objects.requireNonNull;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.training.GradientCollector;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import io.condense.sdk.data.Dataset;
import io.condense.sdk.data.NdArray;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.tensor.DataType;
import io.condense.sdk.tensor.Tensor;
import io.condense.sdk.training.EpochSummary;
import io.condense.sdk.training.Loss;
import io.condense.sdk.training.Trainer;
import io.condense.sdk.training.TrainingProgress;
import io.condense.sdk.training.TrainingRequest;
import io.condense.sdk.training.TrainingResult;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalDouble;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;

/**
 * The host's {@link Trainer}: interprets the ONNX graph on DJL's PyTorch engine with autograd (see
 * {@link Operators} for the operators) and trains the chosen float initializers. Registered for
 * {@link java.util.ServiceLoader}. PyTorch's autograd recorder is one per JVM in DJL, so training runs one at a
 * time (concurrent callers wait); {@link #run} and {@link #accuracy} do not wait.
 *
 * <p>A run: the graph is checked first (every unsupported operator named at once, {@code UNSUPPORTED_MODEL}), then
 * the data against the model's single input, the trainable names and the masks; then for each epoch the samples
 * are shuffled with {@code java.util.Random(seed)}, cut into batches, and for each batch: the cancellation check,
 * the forward pass in training mode, cross-entropy on the logits, backward, the optimizer step of every trained
 * initializer. PyTorch's own random state (dropout) is seeded with the seed too, so a run with the same request and
 * thread count repeats exactly.
 */
public final class PyTorchTrainer implements Trainer {
    private static final Object TRAINING_LOCK = new Object();
    private static final int EVALUATION_BATCH = 256;

    public PyTorchTrainer() {
    }

    @Override
    public List<String> unsupportedOperators(OnnxModel model) {
        return GraphProgram.unsupportedOperators(requireNonNull(model, "model is null"));
    }

    @Override
    public Map<String, NdArray> run(OnnxModel model, Map<String, NdArray> inputs) {
        requireNonNull(inputs, "inputs is null");
        GraphProgram program = GraphProgram.compile(model);
        for (String name : program.inputNames()) {
            if (!inputs.containsKey(name)) {
                throw new CondenseException(ErrorCode.INVALID_DATA, "the model's input " + name + " was not given (inputs: "
                        + program.inputNames() + ")");
            }
        }
        Engine engine = PyTorchEngine.get();
        try (NDManager manager = engine.newBaseManager()) {
            Map<String, NDArray> initializers = program.loadInitializers(manager);
            Map<String, NDArray> feeds = new LinkedHashMap<>();
            for (String name : program.inputNames()) {
                NDArray value = Conversions.fromNdArray(manager, inputs.get(name));
                feeds.put(name, value.getDataType() == ai.djl.ndarray.types.DataType.FLOAT64
                        ? value.toType(ai.djl.ndarray.types.DataType.FLOAT32, false) : value);
            }
            ExecutionContext context = new ExecutionContext(manager, false, true, program.opset());
            Map<String, NDArray> outputs = program.run(context, initializers, feeds, List.of());
            Map<String, NdArray> result = new LinkedHashMap<>();
            outputs.forEach((name, value) -> result.put(name, Conversions.toNdArray(value)));
            return result;
        }
    }

    @Override
    public double accuracy(OnnxModel model, Dataset data, float inputScale, int batchSize) {
        requireNonNull(data, "data is null");
        if (data.labels().isEmpty()) {
            throw new CondenseException(ErrorCode.DATA_REQUIRED, "accuracy needs labels with the data");
        }
        if (batchSize <= 0) {
            throw new IllegalArgumentException("batchSize must be positive, got " + batchSize);
        }
        GraphProgram program = GraphProgram.compile(model);
        SampleLayout layout = SampleLayout.of(program, data, inputScale, "evaluation");
        String logits = program.outputNames().get(0);
        try (NDManager manager = PyTorchEngine.get().newBaseManager()) {
            Map<String, NDArray> initializers = program.loadInitializers(manager);
            return evaluate(program, layout, logits, manager, initializers, batchSize);
        }
    }

    private static double evaluate(GraphProgram program, SampleLayout layout, String logitsName, NDManager manager,
            Map<String, NDArray> initializers, int batchSize) {
        ExecutionContext context = new ExecutionContext(manager, false, true, program.opset());
        int[] order = SampleLayout.identity(layout.size());
        if (layout.fixedBatch() > 0) {
            batchSize = layout.fixedBatch();
        }
        long correct = 0;
        for (int from = 0; from < order.length; from += batchSize) {
            int to = Math.min(order.length, from + batchSize);
            try (NDScope scope = new NDScope()) {
                scope.suppressNotUsedWarning();
                NDArray x = layout.batch(manager, order, from, to);
                NDArray y = layout.batchLabels(manager, order, from, to);
                NDArray logits = program.run(context, initializers, Map.of(layout.inputName(), x), List.of(logitsName))
                        .get(logitsName).reshape(to - from, -1);
                correct += logits.argMax(1).eq(y).sum().getLong();
            }
        }
        return order.length == 0 ? 0 : (double) correct / order.length;
    }

    @Override
    public TrainingResult train(TrainingRequest request) {
        requireNonNull(request, "request is null");
        GraphProgram program = GraphProgram.compile(request.model());
        String logitsName = request.logitsOutput().orElse(program.outputNames().get(0));
        if (!program.outputNames().contains(logitsName)) {
            throw new CondenseException(ErrorCode.INVALID_PARAMETER, "the logits output " + logitsName + " is not a graph output "
                    + program.outputNames());
        }
        SampleLayout training = SampleLayout.of(program, request.trainingData(), request.inputScale(), "training");
        SampleLayout validation = request.validationData()
                .map(data -> SampleLayout.of(program, data, request.inputScale(), "validation")).orElse(null);
        if (training.fixedBatch() > 0 && training.fixedBatch() != request.batchSize()) {
            throw new CondenseException(ErrorCode.INVALID_PARAMETER, "the model's input " + training.inputName()
                    + " has a fixed batch of " + training.fixedBatch() + " but the batch size is " + request.batchSize()
                    + "; train with batch size " + training.fixedBatch() + " or export the model with a dynamic batch dimension");
        }
        Set<String> trainable = trainableNames(program, request);
        checkMasks(request, trainable);
        SparsityTraining.check(request, trainable);
        synchronized (TRAINING_LOCK) {
            return trainLocked(program, request, logitsName, training, validation, trainable);
        }
    }

    private static Set<String> trainableNames(GraphProgram program, TrainingRequest request) {
        OnnxModel model = request.model();
        if (request.trainable().isEmpty()) {
            Set<String> names = program.defaultTrainable();
            if (names.isEmpty()) {
                throw new CondenseException(ErrorCode.NOTHING_TO_COMPRESS, "the model has no float32 initializer to train");
            }
            return names;
        }
        Set<String> names = new TreeSet<>(request.trainable().get());
        List<String> problems = new ArrayList<>();
        for (String name : names) {
            TensorProto initializer = model.initializer(name).orElse(null);
            if (initializer == null) {
                problems.add(name + " is not an initializer");
            } else if (initializer.getDataType() != TensorProto.DataType.FLOAT_VALUE) {
                problems.add(name + " is not float32");
            }
        }
        if (!problems.isEmpty()) {
            throw new CondenseException(ErrorCode.INVALID_PARAMETER, "cannot train " + String.join("; ", problems)
                    + "; name float32 initializers of the model");
        }
        if (names.isEmpty()) {
            throw new CondenseException(ErrorCode.INVALID_PARAMETER, "the trainable set is empty; name at least one initializer");
        }
        return names;
    }

    private static void checkMasks(TrainingRequest request, Set<String> trainable) {
        List<String> problems = new ArrayList<>();
        request.gradientMasks().forEach((name, mask) -> {
            if (!trainable.contains(name)) {
                problems.add(name + " is not trained");
                return;
            }
            long[] shape = request.model().initializer(name).map(t -> t.getDimsList().stream().mapToLong(Long::longValue).toArray())
                    .orElseThrow();
            if (NdArray.elementCount(shape) != mask.size()) {
                problems.add("the mask of " + name + " has " + mask.size() + " elements but the initializer " + Arrays.toString(shape)
                        + " has " + NdArray.elementCount(shape));
            }
        });
        if (!problems.isEmpty()) {
            throw new CondenseException(ErrorCode.INVALID_PARAMETER, "bad gradient masks: " + String.join("; ", problems));
        }
    }

    private static TrainingResult trainLocked(GraphProgram program, TrainingRequest request, String logitsName,
            SampleLayout training, SampleLayout validation, Set<String> trainable) {
        Engine engine = PyTorchEngine.get();
        engine.setRandomSeed((int) (request.seed() ^ (request.seed() >>> 32)));
        try (NDManager manager = engine.newBaseManager()) {
            Map<String, NDArray> initializers = program.loadInitializers(manager);
            long classes = probeClasses(program, training, logitsName, manager, initializers);
            training.checkLabels(classes, "training");
            if (validation != null) {
                validation.checkLabels(classes, "validation");
            }
            TeacherLogits teacher = request.loss() instanceof Loss.Distillation distillation
                    ? TeacherLogits.prepare(distillation, request.trainingData(), request.inputScale(), manager, classes, training.size(),
                            request.batchSize())
                    : null;
            List<String> trainedNames = new ArrayList<>(trainable);
            Map<String, ParameterUpdate> updates = new LinkedHashMap<>();
            for (String name : trainedNames) {
                NDArray weight = initializers.get(name);
                NDArray mask = null;
                NdArray given = request.gradientMasks().get(name);
                if (given != null) {
                    mask = manager.create(given.toFloatArray(), weight.getShape());
                }
                if (request.freezeZeros()) {
                    NDArray nonZero = weight.neq(0).toType(ai.djl.ndarray.types.DataType.FLOAT32, false);
                    mask = mask == null ? nonZero : mask.mul(nonZero);
                }
                weight.setRequiresGradient(true);
                updates.put(name, new ParameterUpdate(weight, mask, request.optimizer(), SparsityTraining.penaltyGradient(request, name)));
            }
            SparsityTraining sparsity = SparsityTraining.masks(request, initializers, updates, manager);
            ExecutionContext context = new ExecutionContext(manager, true, request.frozenBatchNormStatistics(), program.opset());
            Random random = new Random(request.seed());
            int[] order = SampleLayout.identity(training.size());
            int batchSize = request.batchSize();
            int batches = (order.length + batchSize - 1) / batchSize;
            int epochs = request.epochs();
            List<EpochSummary> history = new ArrayList<>();
            for (int epoch = 0; epoch < epochs; epoch++) {
                shuffle(order, random);
                long started = System.nanoTime();
                double lossSum = 0;
                long correct = 0;
                long seen = 0;
                for (int batch = 0; batch < batches; batch++) {
                    if (request.cancelled().getAsBoolean()) {
                        throw new CondenseException(ErrorCode.CANCELLED, "training was cancelled in epoch " + (epoch + 1) + " of "
                                + epochs + " before batch " + (batch + 1) + " of " + batches + "; no model is returned");
                    }
                    if (sparsity != null) {
                        sparsity.beforeBatch(epoch, batch, batches);
                    }
                    int from = batch * batchSize;
                    int to = Math.min(order.length, from + batchSize);
                    double rate = request.schedule().rate(epoch, (epoch + (double) batch / batches) / epochs);
                    float batchLoss;
                    long batchCorrect;
                    try (NDScope scope = new NDScope()) {
                        scope.suppressNotUsedWarning();
                        NDArray x = training.batch(manager, order, from, to);
                        NDArray y = training.batchLabels(manager, order, from, to);
                        NDArray teacherLogits = teacher == null ? null : teacher.batch(manager, order, from, to);
                        try (GradientCollector collector = engine.newGradientCollector()) {
                            NDArray logits = program.run(context, initializers, Map.of(training.inputName(), x), List.of(logitsName))
                                    .get(logitsName).reshape(to - from, -1);
                            NDArray loss = loss(request.loss(), logits, y, classes, teacherLogits);
                            collector.backward(loss);
                            batchLoss = loss.getFloat();
                            batchCorrect = logits.argMax(1).eq(y).sum().getLong();
                        }
                        if (!Float.isFinite(batchLoss)) {
                            throw new CondenseException(ErrorCode.INVALID_PARAMETER, "training diverged: the loss is " + batchLoss
                                    + " in epoch " + (epoch + 1) + ", batch " + (batch + 1) + "; lower the learning rate (now "
                                    + rate + ") or check the input scale" + PyTorchEngine.isaAdvice());
                        }
                        for (ParameterUpdate update : updates.values()) {
                            update.step(rate);
                        }
                    }
                    lossSum += batchLoss * (to - from);
                    correct += batchCorrect;
                    seen += to - from;
                    request.listener().onBatch(new TrainingProgress(epoch, epochs, batch + 1, batches, lossSum / seen,
                            (double) correct / seen, rate));
                }
                double seconds = (System.nanoTime() - started) / 1e9;
                OptionalDouble validationAccuracy = validation == null ? OptionalDouble.empty()
                        : OptionalDouble.of(evaluate(program, validation, logitsName, manager, initializers, EVALUATION_BATCH));
                EpochSummary summary = new EpochSummary(epoch, lossSum / seen, (double) correct / seen, validationAccuracy, seen,
                        seconds);
                history.add(summary);
                request.listener().onEpoch(summary);
            }
            Set<String> written = new TreeSet<>(trainable);
            if (!request.frozenBatchNormStatistics()) {
                written.addAll(program.runningStatistics());
            }
            OnnxModel trained = writeBack(request.model(), initializers, written);
            return new TrainingResult(trained, history, trainedNames);
        }
    }

    /**
     * The batch's mean loss: cross-entropy of the labels, or for distillation
     * {@code alpha * T^2 * KL(softmax(t / T) || softmax(s / T)) + (1 - alpha) * cross-entropy} (the T^2 keeps the soft
     * term's gradients on the scale of the hard one's as T changes, Hinton et al. 2015).
     */
    private static NDArray loss(Loss loss, NDArray logits, NDArray labels, long classes, NDArray teacherLogits) {
        NDArray crossEntropy = logits.logSoftmax(1).mul(labels.oneHot((int) classes)).sum(new int[] {1}).neg().mean();
        if (!(loss instanceof Loss.Distillation distillation)) {
            return crossEntropy;
        }
        float temperature = (float) distillation.temperature();
        float alpha = (float) distillation.alpha();
        NDArray teacherLog = Scalars.over(teacherLogits, temperature).logSoftmax(1);
        NDArray kl = teacherLog.exp().mul(teacherLog.sub(Scalars.over(logits, temperature).logSoftmax(1))).sum(new int[] {1}).mean();
        return Scalars.times(kl, alpha * temperature * temperature).add(Scalars.times(crossEntropy, 1 - alpha));
    }

    /** The number of classes: the logits' values per sample, from one inference-mode forward pass on the first sample. */
    private static long probeClasses(GraphProgram program, SampleLayout layout, String logitsName, NDManager manager,
            Map<String, NDArray> initializers) {
        if (layout.size() == 0) {
            throw new CondenseException(ErrorCode.INVALID_DATA, "the training data holds no samples");
        }
        try (NDScope scope = new NDScope()) {
            scope.suppressNotUsedWarning();
            ExecutionContext context = new ExecutionContext(manager, false, true, program.opset());
            NDArray x = layout.batch(manager, new int[] {0}, 0, 1);
            NDArray logits = program.run(context, initializers, Map.of(layout.inputName(), x), List.of(logitsName)).get(logitsName);
            return logits.getShape().size();
        }
    }

    private static void shuffle(int[] order, Random random) {
        for (int i = order.length - 1; i > 0; i--) {
            int j = random.nextInt(i + 1);
            int swap = order[i];
            order[i] = order[j];
            order[j] = swap;
        }
    }

    /** The model with the named initializers replaced by the arrays' values, same names, shapes and element types. */
    static OnnxModel writeBack(OnnxModel model, Map<String, NDArray> values, Set<String> names) {
        ModelProto.Builder builder = model.proto().toBuilder();
        var graph = builder.getGraphBuilder();
        for (int i = 0; i < graph.getInitializerCount(); i++) {
            TensorProto original = graph.getInitializer(i);
            if (!names.contains(original.getName())) {
                continue;
            }
            Tensor tensor = Tensor.fromProto(original);
            float[] trained = values.get(original.getName()).toType(ai.djl.ndarray.types.DataType.FLOAT32, false).toFloatArray();
            DataType type = tensor.dataType();
            TensorProto replaced = Tensor.fromFloats(original.getName(), type, tensor.shape(), trained).toProto();
            graph.setInitializer(i, replaced.toBuilder().setDocString(original.getDocString()).build());
        }
        return OnnxModel.of(builder.build());
    }
}
