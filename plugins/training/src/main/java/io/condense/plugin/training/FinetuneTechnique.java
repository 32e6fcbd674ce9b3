package io.condense.plugin.training;

import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import io.condense.plugin.training.sparsity.SparsityParameters;
import io.condense.plugin.training.sparsity.SparsityPlan;
import io.condense.plugin.training.sparsity.SparsityProgress;
import io.condense.sdk.context.StepContext;
import io.condense.sdk.data.Dataset;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.eval.EvaluationRequest;
import io.condense.sdk.eval.EvaluationResult;
import io.condense.sdk.eval.Evaluator;
import io.condense.sdk.model.InitializerInfo;
import io.condense.sdk.model.ModelEditor;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.technique.ParameterProblem;
import io.condense.sdk.technique.ParameterSpec;
import io.condense.sdk.technique.Parameters;
import io.condense.sdk.technique.Report;
import io.condense.sdk.technique.Technique;
import io.condense.sdk.technique.TechniqueDescriptor;
import io.condense.sdk.technique.TechniqueResult;
import io.condense.sdk.tensor.DataType;
import io.condense.sdk.tensor.Tensor;
import io.condense.sdk.training.Trainer;
import io.condense.sdk.training.TrainingListener;
import io.condense.sdk.training.TrainingParameters;
import io.condense.sdk.training.TrainingRequest;
import io.condense.sdk.training.TrainingResult;
import io.condense.sdk.training.TrainingSteps;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.Set;
import java.util.TreeSet;
import org.pf4j.Extension;

/**
 * Fine-tunes the float weights of a model in the host's training runtime ({@link StepContext#trainer()}) on the
 * job's training data ({@link StepContext#trainingData()}), so that a model compressed by earlier steps recovers
 * its accuracy. With {@code keep_zeros=true} (the default) every weight that is exactly zero in the input stays
 * exactly zero: pruning's sparsity survives. Quantized weights (QDQ: int8, uint8, int4, uint4 levels through
 * DequantizeLinear) train as fake quantization (QAT) and keep their value sets, binary and ternary layers train their
 * scales too, k-means codebooks train with their indices fixed ({@link TrainingGraph}); the written model has the
 * input's form.
 */
@Extension
public final class FinetuneTechnique implements Technique {
    public static final String ID = "finetune";
    static final String KEEP_ZEROS = "keep_zeros";
    static final String TTQ_THRESHOLD = "ttq_threshold";
    static final String TTQ_LATENT_GRADIENT = "ttq_latent_gradient";
    static final String LEARN_SCALES = "learn_scales";
    static final String DISTILL_ALPHA = "distill_alpha";
    static final String DISTILL_TEMPERATURE = "distill_temperature";
    /**
     * The optimizer of a model with TTQ layers when neither optimizer nor momentum is given: Adam, with its default lr 0.001.
     * TTQ trains parameters of very different units together (latents in [-1, 1] whose gradient the paper scales by the
     * layer's scale, about 0.1; scales that get the mean of a layer's gradients; float biases): SGD's one step size (lr 0.01) moved
     * LeNet-5's scales by 0 to 9% and re-drew 3% of fc1's levels in 3 epochs (test accuracy 0.8831), Adam's per-parameter
     * steps moved them by 2 to 49% and re-drew 8% (0.8875; plugins/training/README.md, "TTQ"). Models with binary activations
     * ({@code binarize(activations=1)}) too: SGD lr 0.01 diverged on LeNet-5 W1-A1 (loss 1.07, 1.35, 1.43 over 3 epochs, test
     * accuracy 0.4524), as the binary-network papers train with Adam.
     */
    static final String LOW_BIT_OPTIMIZER = "adam";
    /**
     * The epochs of a model with binary activations ({@code binarize(activations=1)}) when {@code epochs} is not given. With
     * the thresholds and float latents a W1-A1 LeNet-5 still learns after 3 epochs (loss 0.500, 0.393, 0.348; test accuracy
     * 0.8603), and over 10 its loss fell every epoch to 0.286 (0.8775); binary networks train for long (BNN, XNOR-Net and
     * Bi-Real Net for tens to hundreds of epochs). plugins/training/README.md, "W1-A1".
     */
    static final int BINARY_ACTIVATIONS_EPOCHS = 15;
    /**
     * The epochs of a model with TTQ layers ({@code ternarize(method=ttq)}) when {@code epochs} is not given. An all-ternary
     * LeNet-5 underfits in 3 epochs: 0.9176 on its training images against the float model's 0.9395 (test 0.8983, -1.01
     * points); with 15, 0.9375 on them and -0.58 on the test images (seed 7: -0.66); with 30 it fits them better than float
     * (0.9436) and falls back to -0.88 (plugins/training/README.md, "Why TTQ stays below float").
     */
    static final int TTQ_EPOCHS = 15;
    /**
     * The distillation of a model with TTQ layers when {@code distill_alpha} is not given and the host offers the job's model
     * as submitted without TTQ layers (the float original of {@code ternarize(method=ttq) | finetune}): a third of the loss
     * from the original's outputs at temperature 1 ({@link #TTQ_DISTILL_TEMPERATURE}), the weight of Apprentice's soft term
     * (Mishra and Marr 2018). An all-ternary Fashion-MNIST LeNet-5, 15 epochs, against the labels alone: -0.44 against
     * -0.53 points from float at seed 42, -0.13 against -0.53 at seed 7 (plugins/training/README.md, "Sixteenth session").
     */
    static final double TTQ_DISTILL_ALPHA = 0.33;
    static final double TTQ_DISTILL_TEMPERATURE = 1;
    /**
     * The weight decay of finetune with SGD when none is given: the Caffe solver's 0.0005, with which Deep Compression retrains
     * (Han et al. 2015). Fine-tuning a pruned network for many epochs overfits without it: the Caffe LeNet-5 pruned to 8% of
     * its weights reached 0.993 training accuracy in 16 epochs and 0.9113 on the test images (-0.60 from dense); with it
     * 0.9163 (-0.10; plugins/coding/README.md, "Deep Compression on Fashion-MNIST").
     */
    static final double SGD_WEIGHT_DECAY = 0.0005;

    /** Integer operators: weights in these are not in QDQ form, so there is nothing to fake-quantize. */
    private static final Set<String> INTEGER_OPERATORS = Set.of("DynamicQuantizeLinear",
            "QLinearConv", "QLinearMatMul", "MatMulInteger", "ConvInteger", "QLinearAdd", "QLinearMul", "QGemm", "MatMulNBits");

    private static final TechniqueDescriptor DESCRIPTOR = new TechniqueDescriptor(ID, "0.1.0",
            "Fine-tunes the weights on the job's training data (--train-data, --train-labels) in the host's training "
                    + "runtime; weights that are exactly zero (pruned) stay zero; quantized (QDQ), binary, ternary and k-means "
                    + "weights train in their own form (quantization-aware) and keep their levels",
            "training", parameterSpecs());

    /** The shared training parameters with keep_zeros before validation, as finetune has always listed them. */
    private static List<ParameterSpec> parameterSpecs() {
        List<ParameterSpec> specs = new ArrayList<>(TrainingParameters.specs(3, TrainingParameters.DEFAULT_SCHEDULE,
                "Seed of the shuffling: the same seed gives the same weights."));
        int validation = 0;
        while (!specs.get(validation).name().equals(TrainingParameters.VALIDATION)) {
            validation++;
        }
        for (int i = 0; i < specs.size(); i++) {
            if (specs.get(i).name().equals(TrainingParameters.EPOCHS)) {
                specs.set(i, ParameterSpec.integerParameter(TrainingParameters.EPOCHS, 3, io.condense.sdk.technique.Range.closed(1, 1000),
                        "Passes over the training data; when not given, 3, or " + BINARY_ACTIVATIONS_EPOCHS
                                + " for a model with binary activations (binarize(activations=1)), or " + TTQ_EPOCHS
                                + " for a model with TTQ layers (ternarize(method=ttq))."));
            }
            if (specs.get(i).name().equals(TrainingParameters.WEIGHT_DECAY)) {
                specs.set(i, ParameterSpec.doubleParameter(TrainingParameters.WEIGHT_DECAY, SGD_WEIGHT_DECAY,
                        io.condense.sdk.technique.Range.closed(0, 1), "L2 weight decay added to the gradient; when not given, "
                                + SGD_WEIGHT_DECAY + " with sgd (the Caffe solver's, as Deep Compression retrains), 0 with adam, with "
                                + "gradual pruning (sparsity, pattern) and with a regulariser (l1, group_lasso, slimming)."));
            }
        }
        specs.add(validation, ParameterSpec.booleanParameter(KEEP_ZEROS, true,
                "Every weight that is exactly zero in the input model stays zero (keeps pruning's sparsity); false trains them too."));
        specs.add(validation + 1, ParameterSpec.doubleParameter(TTQ_THRESHOLD, TrainedTernaryLayers.DEFAULT_THRESHOLD,
                io.condense.sdk.technique.Range.closedOpen(0, 1),
                "TTQ layers (ternarize(method=ttq)): every step, latent weights with |w| <= ttq_threshold * max |w| of their layer are 0 "
                        + "(0.05 in the TTQ paper); their zeros move with the latent whatever keep_zeros says."));
        specs.add(validation + 2, ParameterSpec.choiceParameter(TTQ_LATENT_GRADIENT, "scaled", List.of("scaled", "plain"),
                "TTQ layers: the latent weights' gradient, scaled (the TTQ paper's: the output gradient times Wp, 1 or Wn by region) "
                        + "or plain (the output gradient as it is, the straight-through estimator of BinaryConnect and TWN)."));
        specs.add(validation + 3, ParameterSpec.stringParameter(IncrementalTernary.PARAMETER, "",
                "TTQ layers (ternarize(method=ttq)): INQ's schedule as cumulative shares, e.g. 0.5,0.75,0.875,1: before each share "
                        + "but the last, that share of each layer's weights (largest first) is ternary with its latents frozen while the "
                        + "rest retrain as float weights; the last share (1) is plain TTQ. epochs are spread over the phases. Blank: "
                        + "plain TTQ from the start."));
        specs.add(validation + 4, ParameterSpec.booleanParameter(LEARN_SCALES, false,
                "Learned step sizes (LSQ): the scales of uniform QDQ weights and of static activation QuantizeLinear/DequantizeLinear "
                        + "pairs train with the weights, their gradients scaled by 1/sqrt(N x Qp); zero points stay fixed. false: "
                        + "those scales stay as calibrated (binary, ternary and TTQ scales train either way)."));
        specs.add(validation + 4, ParameterSpec.doubleParameter(DISTILL_ALPHA, 0, io.condense.sdk.technique.Range.closed(0, 1),
                "Knowledge distillation from the job's model as submitted (before any step): the loss is distill_alpha x T^2 x "
                        + "KL(original || trained, both softened by T = distill_temperature) + (1 - distill_alpha) x cross-entropy of "
                        + "the labels, so the compressed model learns the original's answers, not only the labels. 0: labels only. "
                        + "When not given: 0, or " + TTQ_DISTILL_ALPHA + " at T = " + (int) TTQ_DISTILL_TEMPERATURE + " for a model "
                        + "with TTQ layers (ternarize(method=ttq)) whose job's model has none (its float original)."));
        specs.add(validation + 5, ParameterSpec.doubleParameter(DISTILL_TEMPERATURE, 4, io.condense.sdk.technique.Range.closed(0.1, 100),
                "The temperature T that softens the original's and the trained model's outputs when distill_alpha > 0 (when not "
                        + "given: 4, or " + (int) TTQ_DISTILL_TEMPERATURE + " with the TTQ default of distill_alpha)."));
        specs.addAll(SparsityParameters.specs());
        return List.copyOf(specs);
    }

    @Override
    public TechniqueDescriptor descriptor() {
        return DESCRIPTOR;
    }

    @Override
    public List<ParameterProblem> validate(Parameters parameters) {
        List<ParameterProblem> problems = new ArrayList<>(TrainingParameters.problems(parameters));
        problems.addAll(SparsityParameters.problems(parameters));
        IncrementalTernary.shares(parameters, problems);
        return problems;
    }

    @Override
    public TechniqueResult apply(OnnxModel model, Parameters parameters, StepContext context) {
        TrainingParameters.Settings given = TrainingParameters.settings(parameters);
        int epochs = given.epochs();
        int batch = given.batch();
        float inputScale = given.inputScale();
        boolean keepZeros = parameters.getBoolean(KEEP_ZEROS);

        Dataset data = TrainingSteps.trainingData(context, ID);
        Trainer trainer = TrainingSteps.trainer(context, ID);
        refuseIntegerOperators(model);
        java.util.Optional<io.condense.sdk.quantization.IncrementalPowerOfTwo> incremental =
                io.condense.sdk.quantization.IncrementalPowerOfTwo.of(model);
        if (incremental.isPresent()) {
            if (parameters.getDouble(DISTILL_ALPHA) > 0) {
                throw new CondenseException(ErrorCode.INVALID_PARAMETER, "distill_alpha applies to finetune's ordinary training, and this "
                        + "model is in incremental power-of-two quantization, which finetune trains group by group on labels only; "
                        + "drop distill_alpha");
            }
            return IncrementalFinetune.apply(model, incremental.get(), TrainingSteps.validationDefault(given, parameters, context), keepZeros,
                    data, trainer, context);
        }
        OnnxModel dense = TrainingSteps.densified(model);
        boolean learnScales = parameters.getBoolean(LEARN_SCALES);
        TrainedTernaryLayers.Rule ternaryRule = new TrainedTernaryLayers.Rule(parameters.getDouble(TTQ_THRESHOLD),
                parameters.getString(TTQ_LATENT_GRADIENT).equals("plain"));
        TrainingGraph graph = TrainingGraph.of(dense, ternaryRule, learnScales);
        List<Double> incrementalShares = IncrementalTernary.shares(parameters, new ArrayList<>());
        if (!incrementalShares.isEmpty() && graph.ternaryLayers().isEmpty()) {
            throw new CondenseException(ErrorCode.INVALID_PARAMETER, IncrementalTernary.PARAMETER + " ternarizes TTQ layers "
                    + "incrementally, and this model has none; ternarize it with ternarize(method=ttq) first, or drop "
                    + IncrementalTernary.PARAMETER);
        }
        if (learnScales && graph.activationSteps().isEmpty()
                && graph.weights().stream().noneMatch(weight -> weight.form() == TrainingGraph.Form.QAT && weight.scaleTrained())) {
            throw new CondenseException(ErrorCode.INVALID_PARAMETER, "learn_scales=true trains the scales of uniform QDQ weights and "
                    + "static activations, and this model has none that can train (each scale must be a float initializer read by its "
                    + "own DequantizeLinear); quantize it first (quantize(bits=..., activations=true)), or drop learn_scales");
        }
        OnnxModel trainingModel = graph.model();
        TrainingParameters.Settings lowBit = graph.ternaryLayers().isEmpty() && !graph.binaryActivations()
                ? given : TrainingParameters.settings(parameters, LOW_BIT_OPTIMIZER);
        if (!parameters.isExplicit(TrainingParameters.EPOCHS) && (graph.binaryActivations() || !graph.ternaryLayers().isEmpty())) {
            lowBit = lowBit.withEpochs(graph.binaryActivations() ? BINARY_ACTIVATIONS_EPOCHS : TTQ_EPOCHS);
        }
        TrainingParameters.Settings settings = SparsityParameters.settings(lowBit, parameters);
        epochs = settings.epochs();
        Distillation distillation = Distillation.of(parameters, context, !graph.ternaryLayers().isEmpty());
        List<String> unsupported = trainer.unsupportedOperators(trainingModel);
        if (!unsupported.isEmpty()) {
            throw new CondenseException(ErrorCode.UNSUPPORTED_MODEL, "finetune cannot train this model: the training runtime does "
                    + "not interpret " + String.join(", ", unsupported) + "; fine-tune before the step that introduced them, "
                    + "or without them");
        }
        context.checkCancelled();

        TrainingParameters.Split split = TrainingSteps.validationDefault(settings, parameters, context).split(data, ID);
        Dataset training = split.training();
        Dataset validation = split.validation().orElse(null);
        List<Map<String, Object>> incrementalStages = List.of();
        if (!incrementalShares.isEmpty()) {
            IncrementalTernary.Prepared prepared = IncrementalTernary.run(dense, incrementalShares, ternaryRule,
                    settings, training, validation, keepZeros, trainer, context);
            incrementalStages = prepared.stages();
            graph = TrainingGraph.of(prepared.model(), ternaryRule, learnScales);
            trainingModel = graph.model();
            settings = settings.withEpochs(prepared.lastEpochs()).withSeed(prepared.lastSeed());
        }
        int trainCount = training.size();
        int heldOut = data.size() - trainCount;
        Dataset evaluation = context.evaluationData().filter(d -> d.labels().isPresent()).orElse(null);

        Map<String, Long> zerosBefore = zeroCounts(trainingModel);

        Optional<SparsityPlan> sparsity = SparsityPlan.of(trainingModel, parameters, epochs, (trainCount + batch - 1) / batch);
        SparsityProgress sparsityProgress = sparsity.flatMap(SparsityPlan::pruning)
                .map(pruning -> new SparsityProgress(context, pruning)).orElse(null);
        // TTQ latents re-draw their zeros every step: when there are any, keep_zeros freezes the other zeros by masks
        Set<String> redrawn = graph.zerosRedrawn();
        TrainingRequest.Builder request = settings.request(trainingModel, training)
                .loss(distillation.loss(context))
                .freezeZeros(keepZeros && redrawn.isEmpty())
                .listener(sparsityProgress != null ? sparsityProgress : TrainingListener.reportingTo(context))
                .cancelled(context::isCancelled);
        sparsity.ifPresent(plan -> plan.configure(request));
        if (validation != null) {
            request.validationData(validation);
        }
        graph.trainable().ifPresent(request::trainable);
        if (keepZeros && !redrawn.isEmpty()) {
            OnnxModel masked = trainingModel;
            zeroMasks(masked, graph.trainable().orElseGet(() -> TrainingGraph.defaultTrainable(masked)), redrawn)
                    .forEach(request::gradientMask);
        }

        OptionalDouble heldOutBefore = validation == null ? OptionalDouble.empty()
                : OptionalDouble.of(TrainingSteps.accuracy(trainer, dense, validation, inputScale, batch));
        context.progress(0, heldOutBefore.isPresent()
                ? String.format(java.util.Locale.ROOT, "held-out accuracy before fine-tuning %.4f", heldOutBefore.getAsDouble())
                : "fine-tuning");
        TrainingResult result = TrainingSteps.train(trainer, request.build(), "fine-tuning");
        OnnxModel trained = result.model();
        TrainingGraph.WrittenBack writtenBack = graph.writeBack(trained);
        OnnxModel output = writtenBack.model();

        Map<String, Long> zerosAfter = zeroCounts(trained);
        long keptZeros = 0;
        long zerosInTrained = 0;
        for (String name : result.trainedInitializers()) {
            long before = zerosBefore.getOrDefault(name, 0L);
            zerosInTrained += before;
            if (keepZeros && !redrawn.contains(name)) {
                long lost = lostZeros(trainingModel, trained, name);
                if (lost > 0) {
                    throw new CondenseException(ErrorCode.INTERNAL_ERROR, "finetune was to keep every zero, but " + lost + " zeros of '"
                            + name + "' changed in training; report this with the model");
                }
                keptZeros += before;
            }
        }

        Report.Builder report = Report.builder()
                .put("epochs", epochs).put("optimizer", settings.optimizerName()).put("lr", settings.rate())
                .put("weight_decay", settings.optimizer().weightDecay()).put("batch", batch)
                .put("schedule", settings.scheduleName()).put("seed", settings.seed())
                .put("training_samples", trainCount).put("validation_samples", heldOut)
                .put("keep_zeros", keepZeros)
                .put("learn_scales", learnScales)
                .put(DISTILL_ALPHA, distillation.alpha())
                .put(DISTILL_TEMPERATURE, distillation.temperature())
                .put("zeros_before", zerosInTrained)
                .put("zeros_after", result.trainedInitializers().stream().mapToLong(n -> zerosAfter.getOrDefault(n, 0L)).sum())
                .put("zeros_kept", keptZeros)
                .put("trained_initializers", result.trainedInitializers().size());
        Set<String> quantizedNames = new java.util.HashSet<>();
        for (TrainingGraph.QuantizedWeight weight : graph.weights()) {
            quantizedNames.add(weight.latent());
            quantizedNames.add(weight.scale());
        }
        for (TrainingGraph.QuantizedBias bias : graph.biases()) {
            quantizedNames.add(bias.latent());
        }
        for (TrainingGraph.Codebook codebook : graph.codebooks()) {
            quantizedNames.add(codebook.codebook());
        }
        graph.activationSteps().forEach(step -> quantizedNames.add(step.scale()));
        for (TrainedTernaryLayers.Layer layer : graph.ternaryLayers()) {
            quantizedNames.add(layer.latent());
            quantizedNames.add(layer.found().positiveScale());
            quantizedNames.add(layer.found().negativeScale());
        }
        for (Map<String, Object> layer : writtenBack.layers()) {
            report.addLayer(layer);
        }
        report.put("quantized_layers", graph.weights().size() + graph.ternaryLayers().size()).put("codebooks", graph.codebooks().size())
                .put("activation_scales_trained", graph.activationSteps().size())
                .put("int32_biases", graph.biases().size())
                .put("levels_kept", writtenBack.layers().stream().allMatch(layer -> !Boolean.FALSE.equals(layer.get("levels_kept"))));
        for (String name : result.trainedInitializers()) {
            if (quantizedNames.contains(name)) {
                continue;
            }
            Map<String, Object> layer = new LinkedHashMap<>();
            layer.put("name", name);
            layer.put("form", "float");
            layer.put("elements", trained.tensor(name).elementCount());
            layer.put("zeros_before", zerosBefore.getOrDefault(name, 0L));
            layer.put("zeros_after", zerosAfter.getOrDefault(name, 0L));
            report.addLayer(layer);
        }
        List<Map<String, Object>> history = TrainingSteps.history(result);
        if (sparsityProgress != null) {
            List<Double> epochSparsity = sparsityProgress.epochSparsity();
            for (int i = 0; i < history.size() && i < epochSparsity.size(); i++) {
                history.get(i).put("sparsity", epochSparsity.get(i));
            }
        }
        report.put("history", history);
        if (!incrementalShares.isEmpty()) {
            report.put("ttq_incremental", incrementalShares).put("incremental_stages", incrementalStages)
                    .put("final_phase_epochs", settings.epochs());
        }
        sparsity.ifPresent(plan -> plan.report(trained, report));
        if (validation != null) {
            report.put("validation_accuracy_before", heldOutBefore.getAsDouble());
            report.put("validation_accuracy_after", TrainingSteps.accuracy(trainer, output, validation, inputScale, batch));
        }
        if (evaluation != null) {
            measureEvaluation(context, trainer, dense, output, evaluation, inputScale, batch, report);
        }
        OnnxModel written = resparsified(model, output, sparsity.flatMap(SparsityPlan::pruning)
                .map(pruning -> pruning.initializers()).orElse(Set.of()));
        report.put("sparse_initializers", written.initializers().stream().filter(InitializerInfo::sparse).count());
        context.progress(1, "fine-tuned " + result.trainedInitializers().size() + " initializers over " + epochs + " epochs");
        return new TechniqueResult(written, report.build());
    }

    /**
     * The distillation the training runs with: {@code distill_alpha} and {@code distill_temperature} as given, or for a model
     * with TTQ layers whose host offers a job's model without any ({@link #TTQ_DISTILL_ALPHA} at {@link #TTQ_DISTILL_TEMPERATURE}).
     */
    record Distillation(double alpha, double temperature) {

        static Distillation of(Parameters parameters, StepContext context, boolean ternaryLayers) {
            double temperature = parameters.getDouble(DISTILL_TEMPERATURE);
            if (parameters.isExplicit(DISTILL_ALPHA) || !ternaryLayers) {
                return new Distillation(parameters.getDouble(DISTILL_ALPHA), temperature);
            }
            // the teacher must be the float original: a job submitted with TTQ layers already has no better one
            boolean floatTeacher = context.jobModel().map(job -> !TrainedTernaryLayers.present(TrainingSteps.densified(job))).orElse(false);
            if (!floatTeacher) {
                return new Distillation(0, temperature);
            }
            return new Distillation(TTQ_DISTILL_ALPHA, parameters.isExplicit(DISTILL_TEMPERATURE) ? temperature : TTQ_DISTILL_TEMPERATURE);
        }

        /** Cross-entropy, or with alpha > 0 distillation from the job's model as submitted (densified, as the runtime reads it). */
        io.condense.sdk.training.Loss loss(StepContext context) {
            if (alpha == 0) {
                return io.condense.sdk.training.Loss.crossEntropy();
            }
            OnnxModel teacher = context.jobModel().orElseThrow(() -> new CondenseException(ErrorCode.UNAVAILABLE, "distill_alpha="
                    + alpha + " distills from the job's model as submitted, and this host does not offer it to a step; run on a "
                    + "Condense host of version 0.1.0 or later, or drop distill_alpha"));
            return io.condense.sdk.training.Loss.distillation(TrainingSteps.densified(teacher), temperature, alpha);
        }
    }

    /** Accuracy before and after on the job's evaluation data: in ONNX Runtime when the host has it and inputs need no scale. */
    private static void measureEvaluation(StepContext context, Trainer trainer, OnnxModel before, OnnxModel after, Dataset evaluation,
            float inputScale, int batch, Report.Builder report) {
        Evaluator evaluator = context.evaluator().orElse(null);
        if (evaluator != null && inputScale == 1f) {
            EvaluationResult measured = evaluator.compare(before, after, EvaluationRequest.of(evaluation, evaluation.size()));
            measured.accuracyBefore().ifPresent(v -> report.put("accuracy_before", v));
            measured.accuracyAfter().ifPresent(v -> report.put("accuracy_after", v));
            report.put("evaluation_samples", measured.samples()).put("accuracy_measured_by", "onnxruntime");
        } else {
            report.put("accuracy_before", TrainingSteps.accuracy(trainer, before, evaluation, inputScale, batch));
            report.put("accuracy_after", TrainingSteps.accuracy(trainer, after, evaluation, inputScale, batch));
            report.put("evaluation_samples", evaluation.size()).put("accuracy_measured_by", "training runtime");
        }
    }

    /**
     * Refuses integer kernels (QLinearConv, MatMulInteger, ...): their weights are not in QDQ form, so there is no
     * DequantizeLinear to turn into fake quantization.
     */
    static void refuseIntegerOperators(OnnxModel model) {
        Set<String> integer = new TreeSet<>();
        for (NodeProto node : model.nodes()) {
            if (INTEGER_OPERATORS.contains(node.getOpType())) {
                integer.add(node.getOpType());
            }
        }
        if (!integer.isEmpty()) {
            throw new CondenseException(ErrorCode.UNSUPPORTED_MODEL, "finetune trains float weights, QDQ weights (DequantizeLinear of "
                    + "integer levels) and k-means codebooks, and this model runs integer operators (" + String.join(", ", integer)
                    + "); write the quantized model in QDQ form (as quantize, binarize and ternarize do) or fine-tune before the "
                    + "step that introduced them");
        }
    }


    /**
     * The trained model with every initializer that the input stored sparse (as prune does when that is smaller) stored
     * sparse again when it still is smaller (values plus int64 linear indices: 12 bytes a non-zero against 4 a weight),
     * so fine-tuning a pruned model does not undo its size; so is every initializer that gradual pruning pruned.
     *
     * @param pruned initializers gradual pruning made sparse while training
     */
    static OnnxModel resparsified(OnnxModel input, OnnxModel trained, Set<String> pruned) {
        List<InitializerInfo> sparse = input.initializers().stream()
                .filter(info -> (info.sparse() || pruned.contains(info.name())) && info.dataType() == DataType.FLOAT).toList();
        if (sparse.isEmpty()) {
            return trained;
        }
        ModelEditor editor = trained.edit();
        boolean changed = false;
        for (InitializerInfo info : sparse) {
            float[] values = trained.tensor(info.name()).toFloatArray();
            int nonZeros = 0;
            for (float value : values) {
                if (value != 0f) {
                    nonZeros++;
                }
            }
            if (12L * nonZeros >= 4L * values.length) {
                continue;
            }
            java.nio.ByteBuffer kept = java.nio.ByteBuffer.allocate(4 * nonZeros).order(java.nio.ByteOrder.LITTLE_ENDIAN);
            java.nio.ByteBuffer indices = java.nio.ByteBuffer.allocate(8 * nonZeros).order(java.nio.ByteOrder.LITTLE_ENDIAN);
            for (int i = 0; i < values.length; i++) {
                if (values[i] != 0f) {
                    kept.putFloat(values[i]);
                    indices.putLong(i);
                }
            }
            ai.onnx.proto.OnnxMl.SparseTensorProto.Builder tensor = ai.onnx.proto.OnnxMl.SparseTensorProto.newBuilder()
                    .setValues(TensorProto.newBuilder().setName(info.name()).setDataType(DataType.FLOAT.onnxCode())
                            .addDims(nonZeros).setRawData(com.google.protobuf.ByteString.copyFrom(kept.array())))
                    .setIndices(TensorProto.newBuilder().setName(info.name() + "_indices").setDataType(DataType.INT64.onnxCode())
                            .addDims(nonZeros).setRawData(com.google.protobuf.ByteString.copyFrom(indices.array())));
            for (long dim : info.shape()) {
                tensor.addDims(dim);
            }
            editor.putSparseInitializer(tensor.build());
            changed = true;
        }
        return changed ? editor.build() : trained;
    }

    /** A gradient mask (1 where not zero) for every trainable initializer with a zero, except those named in {@code except}. */
    static Map<String, io.condense.sdk.data.NdArray> zeroMasks(OnnxModel model, Set<String> trainable, Set<String> except) {
        Map<String, io.condense.sdk.data.NdArray> masks = new LinkedHashMap<>();
        for (String name : trainable) {
            if (except.contains(name)) {
                continue;
            }
            Tensor tensor = model.tensor(name);
            float[] values = tensor.toFloatArray();
            float[] mask = new float[values.length];
            boolean zero = false;
            for (int i = 0; i < values.length; i++) {
                mask[i] = values[i] == 0f ? 0f : 1f;
                zero |= values[i] == 0f;
            }
            if (zero) {
                masks.put(name, io.condense.sdk.data.NdArray.ofFloats(tensor.shape(), mask));
            }
        }
        return masks;
    }

    /** Per float32 initializer, how many elements are exactly zero. */
    static Map<String, Long> zeroCounts(OnnxModel model) {
        Map<String, Long> counts = new LinkedHashMap<>();
        for (InitializerInfo info : model.initializers()) {
            if (info.dataType() == DataType.FLOAT) {
                float[] values = model.tensor(info.name()).toFloatArray();
                long zeros = 0;
                for (float value : values) {
                    if (value == 0f) {
                        zeros++;
                    }
                }
                counts.put(info.name(), zeros);
            }
        }
        return counts;
    }

    /** How many elements that were exactly zero in {@code before} are not zero in {@code after}. */
    private static long lostZeros(OnnxModel before, OnnxModel after, String name) {
        float[] old = before.tensor(name).toFloatArray();
        float[] now = after.tensor(name).toFloatArray();
        long lost = 0;
        for (int i = 0; i < old.length; i++) {
            if (old[i] == 0f && now[i] != 0f) {
                lost++;
            }
        }
        return lost;
    }
}
