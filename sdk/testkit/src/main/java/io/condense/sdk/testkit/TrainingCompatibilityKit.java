package io.condense.sdk.testkit;

import static java.util.Objects.requireNonNull;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import io.condense.sdk.data.Dataset;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.eval.EvaluationRequest;
import io.condense.sdk.eval.EvaluationResult;
import io.condense.sdk.eval.Evaluator;
import io.condense.sdk.eval.InferenceSession;
import io.condense.sdk.eval.ValueSpec;
import io.condense.sdk.model.InitializerInfo;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.tensor.DataType;
import io.condense.sdk.technique.ParameterSpec;
import io.condense.sdk.technique.Technique;
import io.condense.sdk.technique.TechniqueResult;
import io.condense.sdk.training.Trainer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;
import org.assertj.core.api.SoftAssertions;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * What a technique that trains owes, as tests a plugin's test class inherits (next to {@link TechniqueCompatibilityKit},
 * which every technique owes): run on one small reference model with labelled training data and the host's trainer in
 * the step context,
 * <ul>
 *   <li>the output loads and runs in ONNX Runtime with the input model's input and output names, element types and
 *       shapes (on generated inputs, no NaN outputs), and the input model's bytes are unchanged;</li>
 *   <li>training changed float weights: at least one float32 initializer of the input has other values in the output,
 *       and every float32 value of the output is finite;</li>
 *   <li>progress is reported, every fraction in [0, 1] with a message, the fractions never go back, and the last is
 *       larger than the first;</li>
 *   <li>the same parameters (so the same seed) give a byte-identical output model; when the technique declares a
 *       {@code seed} parameter, another seed gives other weights;</li>
 *   <li>without training data the step fails with {@link ErrorCode#DATA_REQUIRED} whose message names
 *       {@code --train-data}; without a trainer (a host with no training runtime) with {@link ErrorCode#UNAVAILABLE};</li>
 *   <li>a job cancelled after a few progress events ends with {@link ErrorCode#CANCELLED} and no model, having
 *       reported fewer progress events than the full run, and leaves the input model unchanged.</li>
 * </ul>
 *
 * <p><b>The trainer.</b> The kit never depends on a training runtime. By default {@link #trainer()} finds the host's
 * with {@link java.util.ServiceLoader} ({@link Trainers#fromServiceLoader()}): add {@code io.condense:condense-training} as a
 * test dependency of the plugin, next to {@code io.condense:condense-runtime} for the evaluator. Override
 * {@link #trainer()} to supply another one (a hand-written fake, for example).
 *
 * <p>Keep it fast: a small model, a few hundred samples and parameters that train one or two short epochs. The full
 * run must report more progress events than {@link #cancelAfterProgressEvents()} plus a few (batch-level progress does),
 * or the cancellation check cannot tell a cancelled run from a finished one and fails saying so. The technique runs
 * five times: the full run (kept for all checks), the repeat, another seed, the cancelled run, and the two refusals,
 * which should fail before any training.
 *
 * <pre>{@code
 * class FinetuneTrainingCompatibilityTest extends TrainingCompatibilityKit {
 *     protected Technique technique() { return new FinetuneTechnique(); }
 *     protected Map<String, String> trainingParameters() { return Map.of("epochs", "2", "batch", "32", "lr", "0.001"); }
 *     protected OnnxModel referenceModel() { return OnnxModel.load(SharedData.model("pytorch_cnn_mnist.onnx")); }
 *     protected Dataset trainingData() { return SharedData.mnistDigits(512, 1f); }
 * }
 * }</pre>
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
public abstract class TrainingCompatibilityKit {
    private static final int GENERATED_SAMPLES = 2;
    private static final String SEED = "seed";

    private Run trained;
    private Technique technique;
    private OnnxModel model;
    private Dataset data;

    /** The technique under test. Called once per test class. */
    protected abstract Technique technique();

    /** Parameter values that make the technique train the reference model, quickly. */
    protected abstract Map<String, String> trainingParameters();

    /** A small model with float weights the technique trains. Called once per test class. */
    protected abstract OnnxModel referenceModel();

    /** Labelled training data that fits the reference model (a few hundred samples). Called once per test class. */
    protected abstract Dataset trainingData();

    /** The host's training runtime; by default the one {@link Trainers#fromServiceLoader()} finds. */
    protected Trainer trainer() {
        return Trainers.fromServiceLoader();
    }

    /** After how many progress events the cancelled run's context flips its cancel switch; 3 by default. */
    protected int cancelAfterProgressEvents() {
        return 3;
    }

    /**
     * The step context before the kit sets the technique, its parameters, the training data and the trainer. Override to
     * add evaluation or calibration data; do not set training data or a trainer here (the kit decides when there are).
     */
    protected TestStepContext.Builder stepContext() {
        return TestStepContext.builder();
    }

    /** The full run with {@link #trainingParameters()}, the data and the trainer: run once and kept. */
    protected final Run trained() {
        if (trained == null) {
            trained = run(trainingParameters(), builder -> builder.trainingData(data()).trainer(trainer()));
        }
        return trained;
    }

    /**
     * Parameters added to {@link #trainingParameters()} that make the technique prune gradually while it trains, with the
     * target as {@code sparsity} (finetune: {@code sparsity=0.8}); empty (the default) when it does not, and
     * {@link #gradualPruningReachesItsSparsityInAModelThatRuns} is skipped.
     */
    protected Map<String, String> gradualPruningParameters() {
        return Map.of();
    }

    /**
     * Parameters added to {@link #trainingParameters()} that train with a sparsity-inducing regulariser (finetune:
     * {@code group_lasso=0.01}); empty (the default) when the technique has none, and the check is skipped.
     */
    protected Map<String, String> regularisedParameters() {
        return Map.of();
    }

    @Test
    public final void trainedOutputRunsInOnnxRuntimeWithTheSameInputsAndOutputs() {
        assertRunsLikeTheInput(trained().orFail());
    }

    @Test
    public final void gradualPruningReachesItsSparsityInAModelThatRuns() {
        Map<String, String> parameters = withTraining(gradualPruningParameters(), "the technique does not prune while training");
        assertThat(parameters).as("gradual pruning parameters must name the target").containsKey("sparsity");
        Run run = run(parameters, builder -> builder.trainingData(data()).trainer(trainer())).orFail();
        assertRunsLikeTheInput(run);
        double target = Double.parseDouble(parameters.get("sparsity"));
        long minElements = Long.parseLong(parameters.getOrDefault("min_elements", "256"));
        OnnxModel output = OnnxModel.fromBytes(run.result().model().toBytes());
        long zeros = 0;
        long total = 0;
        for (String weight : output.weightLayers().stream().map(layer -> layer.weightName()).distinct().toList()) {
            InitializerInfo info = output.initializers().stream().filter(i -> i.name().equals(weight)).findFirst().orElseThrow();
            if (info.dataType() != DataType.FLOAT || info.elements() < minElements) {
                continue;
            }
            for (float value : output.tensor(weight).toFloatArray()) {
                zeros += value == 0f ? 1 : 0;
            }
            total += info.elements();
        }
        assertThat(total).as("weights of the Conv, Gemm and MatMul layers with at least %d elements", minElements).isPositive();
        assertThat((double) zeros / total).as("share of zeros over those weights after gradual pruning to %s", target)
                .isGreaterThanOrEqualTo(target - 0.005);
        assertThat(run.progressEvents()).as("progress of a gradual pruning run shows the sparsity")
                .anyMatch(event -> event.message().contains("sparsity"));
    }

    @Test
    public final void regularisedTrainingRunsAndLearnsOtherWeights() {
        Map<String, String> extra = regularisedParameters();
        Map<String, String> parameters = withTraining(extra, "the technique has no sparsity-inducing regulariser");
        Run run = run(parameters, builder -> builder.trainingData(data()).trainer(trainer())).orFail();
        assertRunsLikeTheInput(run);
        OnnxModel regularised = run.result().model();
        for (InitializerInfo info : regularised.initializers()) {
            if (info.dataType() == DataType.FLOAT) {
                for (float value : regularised.tensor(info.name()).toFloatArray()) {
                    assertThat(Float.isFinite(value)).as("values of %s are finite", info.name()).isTrue();
                }
            }
        }
        assertThat(differingInitializers(trained().orFail().result().model(), regularised))
                .as("float initializers that the regulariser (%s) made differ from plain training", extra).isNotEmpty();
    }

    /** {@link #trainingParameters()} with {@code extra} added; skips the test (saying {@code skipped}) when extra is empty. */
    private Map<String, String> withTraining(Map<String, String> extra, String skipped) {
        Assumptions.assumeFalse(extra.isEmpty(), skipped);
        Map<String, String> parameters = new LinkedHashMap<>(trainingParameters());
        parameters.putAll(extra);
        return parameters;
    }

    private static void assertRunsLikeTheInput(Run run) {
        Evaluator evaluator = Evaluators.fromServiceLoader();
        OnnxModel output = run.result().model();
        SoftAssertions softly = new SoftAssertions();
        try (InferenceSession original = evaluator.open(run.input()); InferenceSession written = open(evaluator, output)) {
            assertSameValues(softly, "inputs", original.inputs(), written.inputs());
            assertSameValues(softly, "outputs", original.outputs(), written.outputs());
        }
        softly.assertAll();
        EvaluationResult result = evaluator.compare(run.input(), output, EvaluationRequest.generated(GENERATED_SAMPLES));
        assertThat(result.samples()).as("samples the trained model ran on").isEqualTo(GENERATED_SAMPLES);
        assertThat(result.sqnrDb()).as("output SQNR of the trained model on generated inputs (NaN means NaN outputs)").isNotNaN();
    }

    @Test
    public final void inputModelIsLeftUntouched() {
        Run run = trained().orFail();
        assertThat(run.input().toBytes()).as("bytes of the input model after the technique trained it").isEqualTo(run.bytesBefore());
    }

    @Test
    public final void trainingChangesFloatWeights() {
        Run run = trained().orFail();
        OnnxModel output = run.result().model();
        Map<String, Long> changed = new LinkedHashMap<>();
        List<String> notFinite = new ArrayList<>();
        for (InitializerInfo info : run.input().initializers()) {
            if (info.dataType() != DataType.FLOAT || !output.isInitializer(info.name())) {
                continue;
            }
            float[] before = run.input().tensor(info.name()).toFloatArray();
            float[] after = output.tensor(info.name()).toFloatArray();
            if (after.length != before.length) {
                changed.put(info.name(), (long) after.length);
                continue;
            }
            long count = 0;
            for (int i = 0; i < before.length; i++) {
                if (Float.floatToIntBits(after[i]) != Float.floatToIntBits(before[i])) {
                    count++;
                }
                if (!Float.isFinite(after[i])) {
                    notFinite.add(info.name() + "[" + i + "]");
                }
            }
            if (count > 0) {
                changed.put(info.name(), count);
            }
        }
        assertThat(changed).as("float32 initializers of the input whose values training changed (name: elements changed); "
                + "a technique that trains must change float weights").isNotEmpty();
        assertThat(notFinite).as("float32 values of the trained model that are NaN or infinite").isEmpty();
    }

    @Test
    public final void progressIsReportedInTheUnitRangeAndMovesForward() {
        List<TestStepContext.ProgressEvent> events = trained().orFail().progressEvents();
        assertThat(events).as("progress events of a training run").hasSizeGreaterThanOrEqualTo(2);
        SoftAssertions softly = new SoftAssertions();
        double previous = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < events.size(); i++) {
            TestStepContext.ProgressEvent event = events.get(i);
            softly.assertThat(event.fraction()).as("fraction of progress event %d %s", i, event).isBetween(0.0, 1.0);
            softly.assertThat(event.message()).as("message of progress event %d %s", i, event).isNotBlank();
            softly.assertThat(event.fraction()).as("fraction of progress event %d %s after %s (progress never goes back)", i,
                    event, previous).isGreaterThanOrEqualTo(previous);
            previous = event.fraction();
        }
        softly.assertThat(events.get(events.size() - 1).fraction()).as("last progress fraction against the first, %s", events)
                .isGreaterThan(events.get(0).fraction());
        softly.assertAll();
    }

    @Test
    public final void theSameSeedGivesAByteIdenticalModel() {
        Run first = trained().orFail();
        Run second = run(trainingParameters(), builder -> builder.trainingData(data()).trainer(trainer())).orFail();
        byte[] expected = first.result().model().toBytes();
        byte[] actual = second.result().model().toBytes();
        if (!Arrays.equals(expected, actual)) {
            fail("two runs with the same parameters " + trainingParameters() + " wrote different models ("
                    + expected.length + " and " + actual.length + " bytes; float32 initializers that differ: "
                    + differingInitializers(first.result().model(), second.result().model()) + ")");
        }
    }

    @Test
    public final void anotherSeedGivesOtherWeights() {
        ParameterSpec seed = techniqueUnderTest().descriptor().parameters().stream()
                .filter(spec -> spec.name().equals(SEED)).findFirst().orElse(null);
        Assumptions.assumeTrue(seed != null, () -> techniqueUnderTest().descriptor().id() + " declares no 'seed' parameter");
        Run first = trained().orFail();
        Map<String, String> other = new LinkedHashMap<>(trainingParameters());
        String current = other.getOrDefault(SEED, seed.defaultValue() == null ? "0" : seed.defaultValue());
        other.put(SEED, Long.toString(Long.parseLong(current) + 1));
        Run second = run(other, builder -> builder.trainingData(data()).trainer(trainer())).orFail();
        assertThat(differingInitializers(first.result().model(), second.result().model()))
                .as("float32 initializers that differ between seed %s and seed %s", current, other.get(SEED)).isNotEmpty();
    }

    @Test
    public final void withoutTrainingDataTheStepFailsWithDataRequiredNamingTrainData() {
        Throwable thrown = failure(run(trainingParameters(), builder -> builder.trainer(trainer())), "no training data",
                ErrorCode.DATA_REQUIRED);
        assertThat(thrown.getMessage()).as("message refusing a step without training data").contains("--train-data");
    }

    @Test
    public final void withoutATrainerTheStepFailsWithUnavailable() {
        failure(run(trainingParameters(), builder -> builder.trainingData(data())), "no trainer on the host", ErrorCode.UNAVAILABLE);
    }

    @Test
    public final void aCancelledJobEndsWithCancelledAndNoModel() {
        int after = cancelAfterProgressEvents();
        int full = trained().orFail().progressEvents().size();
        assertThat(full).as("progress events of the full run: the cancellation check needs clearly more than %d (the events "
                + "before cancelling) to tell a cancelled run from a finished one; train longer or in smaller batches", after)
                .isGreaterThan(after + 3);
        Run cancelled = run(trainingParameters(), builder -> builder.trainingData(data()).trainer(trainer())
                .cancelAfterProgressEvents(after));
        failure(cancelled, "a job cancelled after " + after + " progress events", ErrorCode.CANCELLED);
        assertThat(cancelled.progressEvents().size()).as("progress events of the run cancelled after %d, against %d of the full "
                + "run (it must stop soon after the switch flips, not finish)", after, full).isLessThan(full);
        assertThat(cancelled.input().toBytes()).as("bytes of the input model after a cancelled run").isEqualTo(cancelled.bytesBefore());
    }

    /** The technique under test, created once. */
    protected final Technique techniqueUnderTest() {
        if (technique == null) {
            technique = requireNonNull(technique(), "technique() returned null");
        }
        return technique;
    }

    private OnnxModel model() {
        if (model == null) {
            model = requireNonNull(referenceModel(), "referenceModel() returned null");
        }
        return model;
    }

    private Dataset data() {
        if (data == null) {
            data = requireNonNull(trainingData(), "trainingData() returned null");
        }
        return data;
    }

    private Run run(Map<String, String> parameters, UnaryOperator<TestStepContext.Builder> setup) {
        Technique subject = techniqueUnderTest();
        OnnxModel input = OnnxModel.fromBytes(model().toBytes());
        byte[] before = input.toBytes();
        try (TestStepContext context = setup.apply(stepContext()).technique(subject, parameters).build()) {
            try {
                TechniqueResult result = subject.apply(input, context.parameters(), context);
                if (result == null) {
                    return new Run(input, before, null, context.progressEvents(),
                            new AssertionError(subject.descriptor().id() + " returned a null result"));
                }
                return new Run(input, before, result, context.progressEvents(), null);
            } catch (Throwable e) {
                return new Run(input, before, null, context.progressEvents(), e);
            }
        }
    }

    private Throwable failure(Run run, String situation, ErrorCode expected) {
        String id = techniqueUnderTest().descriptor().id();
        if (run.failure() == null) {
            fail(id + " with " + situation + " should fail with " + expected + " and write no model, but it returned a model "
                    + "(report " + run.result().report() + ")");
        }
        if (!(run.failure() instanceof CondenseException condense) || condense.code() != expected) {
            throw new AssertionError(id + " with " + situation + " should fail with a CondenseException of code " + expected
                    + ", but threw " + run.failure(), run.failure());
        }
        return run.failure();
    }

    private static List<String> differingInitializers(OnnxModel first, OnnxModel second) {
        List<String> names = new ArrayList<>();
        for (InitializerInfo info : first.initializers()) {
            if (info.dataType() == DataType.FLOAT && second.isInitializer(info.name())
                    && !Arrays.equals(first.tensor(info.name()).toFloatArray(), second.tensor(info.name()).toFloatArray())) {
                names.add(info.name());
            }
        }
        return names;
    }

    private static InferenceSession open(Evaluator evaluator, OnnxModel output) {
        try {
            return evaluator.open(output);
        } catch (RuntimeException e) {
            throw new AssertionError("ONNX Runtime refuses the trained model: " + e.getMessage(), e);
        }
    }

    private static void assertSameValues(SoftAssertions softly, String kind, List<ValueSpec> expected, List<ValueSpec> actual) {
        softly.assertThat(actual.stream().map(ValueSpec::name).toList()).as("%s names of the trained model", kind)
                .isEqualTo(expected.stream().map(ValueSpec::name).toList());
        for (ValueSpec want : expected) {
            for (ValueSpec have : actual) {
                if (have.name().equals(want.name())) {
                    softly.assertThat(have.dataType()).as("element type of %s '%s'", kind, want.name()).isEqualTo(want.dataType());
                    softly.assertThat(have.shape()).as("shape of %s '%s' (expected %s)", kind, want.name(),
                            Arrays.toString(want.shape())).isEqualTo(want.shape());
                }
            }
        }
    }

    /**
     * One run of the technique.
     *
     * @param input the model handed to the technique (a private copy of the reference model)
     * @param bytesBefore its bytes before the run
     * @param result what the technique returned, or null when it threw
     * @param progressEvents every progress event of the run
     * @param failure what it threw (or why the result is unusable), or null
     */
    protected record Run(OnnxModel input, byte[] bytesBefore, TechniqueResult result, List<TestStepContext.ProgressEvent> progressEvents,
            Throwable failure) {

        /** This run, or an assertion error carrying what the technique threw. */
        public Run orFail() {
            if (failure instanceof AssertionError assertion) {
                throw assertion;
            }
            if (failure != null) {
                throw new AssertionError("the technique failed to train the reference model: " + failure, failure);
            }
            return this;
        }
    }
}
