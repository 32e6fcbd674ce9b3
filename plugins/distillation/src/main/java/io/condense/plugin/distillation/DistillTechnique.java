package io.condense.plugin.distillation;

import io.condense.sdk.context.StepContext;
import io.condense.sdk.data.Dataset;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.eval.EvaluationRequest;
import io.condense.sdk.eval.EvaluationResult;
import io.condense.sdk.eval.Evaluator;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.model.WeightLayer;
import io.condense.sdk.stats.ModelStats;
import io.condense.sdk.technique.InvalidParametersException;
import io.condense.sdk.technique.ParameterProblem;
import io.condense.sdk.technique.ParameterSpec;
import io.condense.sdk.technique.Parameters;
import io.condense.sdk.technique.Range;
import io.condense.sdk.technique.Report;
import io.condense.sdk.technique.Technique;
import io.condense.sdk.technique.TechniqueDescriptor;
import io.condense.sdk.technique.TechniqueResult;
import io.condense.sdk.training.Loss;
import io.condense.sdk.training.Trainer;
import io.condense.sdk.training.TrainingListener;
import io.condense.sdk.training.TrainingParameters;
import io.condense.sdk.training.TrainingRequest;
import io.condense.sdk.training.TrainingResult;
import io.condense.sdk.training.TrainingSteps;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalDouble;
import org.pf4j.Extension;

/**
 * Knowledge distillation (Hinton et al. 2015): the job's model is the teacher; a student, derived from it
 * ({@link DerivedStudent}: fewer channels, depthwise separable convolutions, new weights) or uploaded by the client,
 * trains in the host's training runtime on the job's training data against the teacher's softened outputs and the
 * labels ({@link Loss#distillation}), and is the step's output. With {@code compare=true} the same student also trains
 * on the labels alone, so the report says what distillation gained.
 */
@Extension
public final class DistillTechnique implements Technique {
    public static final String ID = "distill";
    static final String STUDENT = "student";
    static final String WIDTH = "width";
    static final String DEPTHWISE = "depthwise";
    static final String INIT = "init";
    static final String TEMPERATURE = "temperature";
    static final String ALPHA = "alpha";
    static final String COMPARE = "compare";
    static final String DERIVED = "derived";
    /** The parameters that shape a derived student only. */
    private static final List<String> DERIVATION_PARAMETERS = List.of(WIDTH, DEPTHWISE, INIT);
    /** Share of the step's progress the derivation takes; training takes the rest. */
    private static final double DERIVATION_SHARE = 0.05;

    private static final TechniqueDescriptor DESCRIPTOR = new TechniqueDescriptor(ID, "0.1.0",
            "Knowledge distillation: trains a smaller student (derived from the model by width and depthwise separable "
                    + "convolutions, or uploaded) on the model's softened outputs and the job's training data (--train-data, "
                    + "--train-labels) in the host's training runtime; the student is the output",
            "distillation", parameterSpecs());

    private static List<ParameterSpec> parameterSpecs() {
        List<ParameterSpec> specs = new ArrayList<>(List.of(
                ParameterSpec.stringParameter(STUDENT, DERIVED,
                        "derived: the student is derived from the model (width, depthwise, init); otherwise the id of a model "
                                + "the client uploaded (the CLI uploads student=@file.onnx), with the model's inputs and as many "
                                + "output values per sample.").acceptingUpload(),
                ParameterSpec.doubleParameter(WIDTH, 0.5, new Range(0.0, false, 1.0, true),
                        "Derived student: share of output channels each hidden Conv, Gemm and MatMul layer keeps (the smallest "
                                + "l1 norms go, at least one stays; the layer producing the output keeps all); in (0, 1]."),
                ParameterSpec.booleanParameter(DEPTHWISE, false,
                        "Derived student: every k x k Conv (k > 1, group 1, more than one input channel) becomes a depthwise "
                                + "k x k Conv and a 1 x 1 pointwise Conv (MobileNet), with new Kaiming-uniform weights."),
                ParameterSpec.choiceParameter(INIT, "teacher", List.of("teacher", "random"),
                        "Derived student: teacher: kept channels start from the teacher's weights; random: every weight "
                                + "re-initialised as PyTorch initialises a new layer (uniform in +-1/sqrt(fan in)), from seed."),
                ParameterSpec.doubleParameter(TEMPERATURE, 4, Range.closed(0.1, 100),
                        "Softens the teacher's and the student's outputs (softmax of logits / temperature)."),
                ParameterSpec.doubleParameter(ALPHA, 0.5, Range.closed(0, 1),
                        "Weight of the teacher's term: alpha x T^2 x KL(teacher || student) + (1 - alpha) x cross-entropy of "
                                + "the labels; 0 trains on the labels alone."),
                ParameterSpec.booleanParameter(COMPARE, false,
                        "Also train the same student (same start, seed and schedule) on the labels alone and report both "
                                + "accuracies and the difference (distillation_gain).")));
        specs.addAll(TrainingParameters.specs(10, TrainingParameters.DEFAULT_SCHEDULE,
                "Seed of the shuffling and of every new or re-initialised student weight: the same seed gives the same student."));
        return List.copyOf(specs);
    }

    @Override
    public TechniqueDescriptor descriptor() {
        return DESCRIPTOR;
    }

    @Override
    public List<ParameterProblem> validate(Parameters parameters) {
        List<ParameterProblem> problems = new ArrayList<>(TrainingParameters.problems(parameters));
        String studentName = parameters.getString(STUDENT).trim();
        if (!(studentName.isEmpty() || studentName.equals(DERIVED))) {
            for (String name : DERIVATION_PARAMETERS) {
                if (parameters.isExplicit(name)) {
                    problems.add(new ParameterProblem(name, parameters.getString(name), "applies to student=derived only, and "
                            + "the student is the uploaded model " + studentName + ": drop " + name));
                }
            }
        }
        return problems;
    }

    @Override
    public TechniqueResult apply(OnnxModel model, Parameters parameters, StepContext context) {
        List<ParameterProblem> problems = validate(parameters);
        if (!problems.isEmpty()) {
            throw new InvalidParametersException(problems);
        }
        TrainingParameters.Settings settings = TrainingParameters.settings(parameters);
        String studentName = parameters.getString(STUDENT).trim();
        boolean derived = studentName.isEmpty() || studentName.equals(DERIVED);
        double temperature = parameters.getDouble(TEMPERATURE);
        double alpha = parameters.getDouble(ALPHA);
        boolean compare = parameters.getBoolean(COMPARE);

        Dataset data = TrainingSteps.trainingData(context, ID);
        Trainer trainer = TrainingSteps.trainer(context, ID);
        OnnxModel teacher = TrainingSteps.densified(model);
        refuseUnsupported(trainer, teacher, "the teacher (the step's input model)");

        OnnxModel student;
        Optional<DerivedStudent.Derivation> derivation = Optional.empty();
        if (derived) {
            DerivedStudent.Options options = new DerivedStudent.Options(parameters.getDouble(WIDTH),
                    parameters.getBoolean(DEPTHWISE), parameters.getString(INIT).equals("random"), settings.seed());
            derivation = Optional.of(DerivedStudent.derive(teacher, options,
                    new ProgressSlice(context, 0, DERIVATION_SHARE, "deriving the student: ")));
            student = derivation.get().model();
        } else {
            student = TrainingSteps.densified(context.uploadedModel(studentName));
            StudentSignature.check(teacher, student, studentName);
        }
        refuseUnsupported(trainer, student, "the student");
        context.checkCancelled();

        TrainingParameters.Split split = TrainingSteps.validationDefault(settings, parameters, context).split(data, ID);
        Dataset validation = split.validation().orElse(null);
        Dataset evaluation = context.evaluationData().filter(d -> d.labels().isPresent()).orElse(null);
        Loss loss = alpha == 0 ? Loss.crossEntropy() : Loss.distillation(teacher, temperature, alpha);

        double trainingEnd = compare ? (DERIVATION_SHARE + 1) / 2 : 0.95;
        context.progress(DERIVATION_SHARE, "distilling " + (derived ? "the derived student" : "the student " + studentName)
                + " from the teacher");
        TrainingResult distilled = train(trainer, settings.request(student, split.training()).loss(loss), validation,
                new ProgressSlice(context, DERIVATION_SHARE, trainingEnd, compare ? "distilled: " : ""), context);
        Optional<TrainingResult> labelsOnly = Optional.empty();
        if (compare) {
            labelsOnly = Optional.of(train(trainer, settings.request(student, split.training()).loss(Loss.crossEntropy()),
                    validation, new ProgressSlice(context, trainingEnd, 0.95, "labels only: "), context));
        }
        OnnxModel output = distilled.model();

        ModelStats teacherStats = ModelStats.of(model);
        ModelStats studentStats = ModelStats.of(output);
        Report.Builder report = Report.builder()
                .put("student", derived ? DERIVED : "given");
        if (!derived) {
            report.put("student_id", studentName);
        }
        derivation.ifPresent(d -> report.put(WIDTH, parameters.getDouble(WIDTH)).put(DEPTHWISE, parameters.getBoolean(DEPTHWISE))
                .put(INIT, parameters.getString(INIT)).put("narrowed_layers", d.narrowedLayers())
                .put("separable_convolutions", d.separableConvolutions())
                .put("reinitialized_initializers", d.reinitializedInitializers()));
        report.put("teacher_parameters", teacherStats.parameters()).put("teacher_bytes", teacherStats.serializedBytes())
                .put("student_parameters", studentStats.parameters()).put("student_bytes", studentStats.serializedBytes())
                .put("params_ratio", teacherStats.parameters() == 0 ? 0.0
                        : (double) studentStats.parameters() / teacherStats.parameters())
                .put("bytes_ratio", (double) studentStats.serializedBytes() / Math.max(1, teacherStats.serializedBytes()))
                .put(TEMPERATURE, temperature).put(ALPHA, alpha)
                .put("loss", alpha == 0 ? "cross_entropy" : "distillation")
                .put("epochs", settings.epochs()).put("optimizer", settings.optimizerName()).put("lr", settings.rate())
                .put("batch", settings.batch()).put("schedule", settings.scheduleName()).put("seed", settings.seed())
                .put("training_samples", split.training().size()).put("validation_samples", validation == null ? 0 : validation.size())
                .put("history", TrainingSteps.history(distilled));
        for (Map<String, Object> layer : layers(model, output)) {
            report.addLayer(layer);
        }

        context.progress(0.95, "measuring the teacher's and the student's accuracy");
        Accuracies accuracies = measure(context, trainer, teacher, output, labelsOnly.map(TrainingResult::model), evaluation,
                validation, settings);
        accuracies.teacher().ifPresent(v -> report.put("teacher_accuracy", v));
        accuracies.student().ifPresent(v -> report.put("student_accuracy", v));
        accuracies.agreement().ifPresent(v -> report.put("teacher_agreement", v));
        if (accuracies.measuredOn() != null) {
            report.put("accuracy_measured_on", accuracies.measuredOn()).put("accuracy_measured_by", accuracies.measuredBy())
                    .put("accuracy_samples", accuracies.samples());
        }
        if (labelsOnly.isPresent()) {
            report.put("history_labels_only", TrainingSteps.history(labelsOnly.get()));
            accuracies.student().ifPresent(v -> report.put("accuracy_distilled", v));
            accuracies.labelsOnly().ifPresent(v -> report.put("accuracy_labels_only", v));
            if (accuracies.student().isPresent() && accuracies.labelsOnly().isPresent()) {
                report.put("distillation_gain", accuracies.student().getAsDouble() - accuracies.labelsOnly().getAsDouble());
            }
        }
        context.progress(1, String.format(Locale.ROOT, "distilled a student of %d parameters (%.1f%% of the teacher's) over %d epoch%s",
                studentStats.parameters(), 100.0 * studentStats.parameters() / Math.max(1, teacherStats.parameters()),
                settings.epochs(), settings.epochs() == 1 ? "" : "s"));
        return new TechniqueResult(output, report.build());
    }

    private static TrainingResult train(Trainer trainer, TrainingRequest.Builder request, Dataset validation, StepContext progress,
            StepContext context) {
        request.listener(TrainingListener.reportingTo(progress)).cancelled(context::isCancelled);
        if (validation != null) {
            request.validationData(validation);
        }
        return TrainingSteps.train(trainer, request.build(), "distilling");
    }

    /** Accuracies measured after training; empty where there was nothing to measure on. */
    record Accuracies(OptionalDouble teacher, OptionalDouble student, OptionalDouble labelsOnly, OptionalDouble agreement,
            String measuredOn, String measuredBy, int samples) {
    }

    /**
     * The teacher's, the student's (and the labels-only student's) accuracy: on the job's evaluation data when it has
     * labelled evaluation data (in ONNX Runtime when the host has it and inputs need no scale), else on the held-out
     * validation samples in the training runtime.
     */
    private static Accuracies measure(StepContext context, Trainer trainer, OnnxModel teacher, OnnxModel student,
            Optional<OnnxModel> labelsOnly, Dataset evaluation, Dataset validation, TrainingParameters.Settings settings) {
        Evaluator evaluator = context.evaluator().orElse(null);
        if (evaluation != null && evaluator != null && settings.inputScale() == 1f) {
            EvaluationRequest request = EvaluationRequest.of(evaluation, evaluation.size());
            EvaluationResult measured = evaluator.compare(teacher, student, request);
            OptionalDouble plain = labelsOnly.map(m -> evaluator.compare(teacher, m, request).accuracyAfter())
                    .orElse(OptionalDouble.empty());
            return new Accuracies(measured.accuracyBefore(), measured.accuracyAfter(), plain,
                    OptionalDouble.of(measured.top1Agreement()), "evaluation", "onnxruntime", measured.samples());
        }
        Dataset data = evaluation != null ? evaluation : validation;
        if (data == null) {
            return new Accuracies(OptionalDouble.empty(), OptionalDouble.empty(), OptionalDouble.empty(), OptionalDouble.empty(),
                    null, null, 0);
        }
        float scale = settings.inputScale();
        int batch = settings.batch();
        OptionalDouble plain = labelsOnly.map(m -> OptionalDouble.of(TrainingSteps.accuracy(trainer, m, data, scale, batch)))
                .orElse(OptionalDouble.empty());
        return new Accuracies(OptionalDouble.of(TrainingSteps.accuracy(trainer, teacher, data, scale, batch)),
                OptionalDouble.of(TrainingSteps.accuracy(trainer, student, data, scale, batch)), plain, OptionalDouble.empty(),
                evaluation != null ? "evaluation" : "validation", "training runtime", data.size());
    }

    /** One entry per weight layer of the student: its op, weight shape and parameters, and the teacher's where it has the same weight. */
    private static List<Map<String, Object>> layers(OnnxModel teacher, OnnxModel student) {
        List<Map<String, Object>> layers = new ArrayList<>();
        for (WeightLayer layer : student.weightLayers()) {
            Map<String, Object> entry = new LinkedHashMap<>();
            entry.put("name", layer.displayName());
            entry.put("op", layer.opType());
            entry.put("weight", layer.weightName());
            long[] shape = student.tensor(layer.weightName()).shape();
            entry.put("shape", shapeList(shape));
            entry.put("parameters", elements(student, layer.weightName()) + elements(student, layer.biasName()));
            if (teacher.isInitializer(layer.weightName())) {
                entry.put("teacher_shape", shapeList(teacher.tensor(layer.weightName()).shape()));
            }
            layers.add(entry);
        }
        return layers;
    }

    private static long elements(OnnxModel model, String name) {
        return name != null && !name.isEmpty() && model.isInitializer(name) ? model.tensor(name).elementCount() : 0;
    }

    private static List<Long> shapeList(long[] shape) {
        List<Long> dims = new ArrayList<>();
        for (long dim : shape) {
            dims.add(dim);
        }
        return dims;
    }


    private static void refuseUnsupported(Trainer trainer, OnnxModel model, String which) {
        List<String> unsupported = trainer.unsupportedOperators(model);
        if (!unsupported.isEmpty()) {
            throw new CondenseException(ErrorCode.UNSUPPORTED_MODEL, "distill cannot run " + which + " in the training runtime: it "
                    + "does not interpret " + String.join(", ", unsupported) + "; distill before the step that introduced them, "
                    + "or give a model without them");
        }
    }
}
