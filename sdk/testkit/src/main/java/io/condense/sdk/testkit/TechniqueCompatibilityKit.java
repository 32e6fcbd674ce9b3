package io.condense.sdk.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;
import static org.assertj.core.api.Assertions.fail;

import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.eval.EvaluationRequest;
import io.condense.sdk.eval.EvaluationResult;
import io.condense.sdk.eval.Evaluator;
import io.condense.sdk.eval.InferenceSession;
import io.condense.sdk.eval.ValueSpec;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.technique.InvalidParametersException;
import io.condense.sdk.technique.ParameterProblem;
import io.condense.sdk.technique.ParameterSpec;
import io.condense.sdk.technique.ParameterType;
import io.condense.sdk.technique.Parameters;
import io.condense.sdk.technique.Range;
import io.condense.sdk.technique.Report;
import io.condense.sdk.technique.Technique;
import io.condense.sdk.technique.TechniqueDescriptor;
import io.condense.sdk.technique.TechniqueResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.assertj.core.api.SoftAssertions;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.TestInstance;

/**
 * The invariants every technique owes, as tests a plugin's test class inherits (in the manner of Micrometer's
 * {@code *CompatibilityKit} classes):
 * <ul>
 *   <li>its descriptor is sane: lower-case id, a version, a summary, a family, every parameter documented and
 *       every default accepted by its own spec;</li>
 *   <li>on every reference model, the output loads and runs in ONNX Runtime (through the {@link Evaluator} that
 *       {@link java.util.ServiceLoader} finds) with the same input and output names, element types and shapes, on
 *       generated inputs;</li>
 *   <li>the input model is left untouched: its bytes are equal before and after;</li>
 *   <li>the report is complete: not empty, with per-layer entries under {@code layers}, each naming its layer under
 *       {@code name};</li>
 *   <li>progress events, if any, carry a fraction in [0, 1] and a message;</li>
 *   <li>every invalid parameter case, every value derived from the specs' own rules (out of range, not a number,
 *       not a choice) and an unknown parameter name are refused with {@link InvalidParametersException} (or a
 *       {@link CondenseException} with {@link ErrorCode#INVALID_PARAMETER}) whose message names the parameter.</li>
 * </ul>
 *
 * <p>Parameters are checked as the host does: first against the descriptor's specs with
 * {@link Parameters#validate}, then, when they pass, by {@link Technique#apply} itself (for rules that involve
 * several parameters or the model), run on the first reference model.
 *
 * <p>The technique runs once per reference model per test class (one test instance per class); every per-model
 * test reads that outcome. Each failure names the model or the case.
 *
 * <pre>{@code
 * class PruneTechniqueCompatibilityTest extends TechniqueCompatibilityKit {
 *     protected Technique technique() { return new PruneTechnique(); }
 *     protected Map<String, String> validParameters() { return Map.of("sparsity", "0.5"); }
 *     protected List<InvalidParameterCase> invalidParameterCases() {
 *         return List.of(InvalidParameterCase.of("sparsity", "1.5"), InvalidParameterCase.of("scope", "everywhere"));
 *     }
 * }
 * }</pre>
 *
 * <p>The module needs {@code io.condense:condense-runtime} as a test dependency, for the evaluator.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
public abstract class TechniqueCompatibilityKit {
    private static final Pattern LOWER_CASE_NAME = Pattern.compile("[a-z][a-z0-9_]*");
    private static final String UNKNOWN_PARAMETER = "no_such_parameter";
    private static final int GENERATED_SAMPLES = 2;

    private final Map<Path, Outcome> outcomes = new ConcurrentHashMap<>();
    private Technique technique;

    /** The technique under test. Called once per test class. */
    protected abstract Technique technique();

    /** Parameter values that the technique must accept and apply to every reference model. */
    protected abstract Map<String, String> validParameters();

    /**
     * The models the technique is run on; by default mnist8, pytorch_cnn_mnist and UltraFace RFB-320 from the
     * shared folder (the tests skip when it is absent). Override to add models or to leave out one the technique
     * honestly refuses.
     */
    protected List<Path> referenceModels() {
        return List.of(
                SharedData.model("mnist8/model.onnx"),
                SharedData.model("pytorch_cnn_mnist.onnx"),
                SharedData.model("ultraface/version-RFB-320.onnx"));
    }

    /** Values the technique must refuse, each with the parameter its error must name; none by default. */
    protected List<InvalidParameterCase> invalidParameterCases() {
        return List.of();
    }

    /**
     * The step context for running the technique on one model, before the kit sets the technique id and the
     * validated parameters. Override to add calibration or evaluation data, or to offer no evaluator.
     */
    protected TestStepContext.Builder stepContext(Path model) {
        return TestStepContext.builder();
    }

    /** The outcome of running the technique with {@link #validParameters()} on a model, run once and kept. */
    protected final Outcome outcome(Path model) {
        return outcomes.computeIfAbsent(model, this::run);
    }

    /** The technique under test, created once. */
    protected final Technique techniqueUnderTest() {
        if (technique == null) {
            technique = technique();
            if (technique == null) {
                fail("technique() returned null");
            }
        }
        return technique;
    }

    @AfterAll
    public final void closeStepContexts() {
        for (Outcome outcome : outcomes.values()) {
            if (outcome.context() != null) {
                outcome.context().close();
            }
        }
        outcomes.clear();
    }

    @Test
    public final void descriptorIsSane() {
        TechniqueDescriptor descriptor = techniqueUnderTest().descriptor();
        assertThat(descriptor).as("descriptor()").isNotNull();
        SoftAssertions softly = new SoftAssertions();
        softly.assertThat(descriptor.id()).as("technique id").matches(LOWER_CASE_NAME);
        softly.assertThat(descriptor.version()).as("version of %s", descriptor.id()).isNotBlank();
        softly.assertThat(descriptor.summary()).as("summary of %s", descriptor.id()).isNotBlank();
        softly.assertThat(descriptor.family()).as("family of %s", descriptor.id()).matches(LOWER_CASE_NAME);
        Set<String> names = new HashSet<>();
        for (ParameterSpec spec : descriptor.parameters()) {
            String label = "parameter '" + spec.name() + "' of " + descriptor.id();
            softly.assertThat(spec.name()).as("name of %s", label).matches(LOWER_CASE_NAME);
            softly.assertThat(names.add(spec.name())).as("%s is declared once", label).isTrue();
            softly.assertThat(spec.documentation()).as("documentation of %s", label).isNotBlank();
            if (spec.defaultValue() != null) {
                softly.assertThat(Parameters.check(List.of(spec), Map.of(spec.name(), spec.defaultValue())))
                        .as("problems of the default value '%s' of %s against its own spec", spec.defaultValue(), label)
                        .isEmpty();
            }
        }
        softly.assertThat(Parameters.check(descriptor.parameters(), validParameters()))
                .as("problems of validParameters() %s against the specs of %s", validParameters(), descriptor.id())
                .isEmpty();
        softly.assertAll();
    }

    @TestFactory
    public final Stream<DynamicTest> outputRunsInOnnxRuntimeWithTheSameInputsAndOutputs() {
        Evaluator evaluator = Evaluators.fromServiceLoader();
        return perModel("output runs in ONNX Runtime with the same inputs and outputs", model -> {
            Outcome outcome = outcome(model).orFail();
            OnnxModel output = outcome.result().model();
            SoftAssertions softly = new SoftAssertions();
            try (InferenceSession original = evaluator.open(outcome.input());
                    InferenceSession compressed = open(evaluator, output, outcome.label())) {
                assertSameValues(softly, outcome.label(), "inputs", original.inputs(), compressed.inputs());
                assertSameValues(softly, outcome.label(), "outputs", original.outputs(), compressed.outputs());
            }
            softly.assertAll();
            EvaluationResult result = evaluator.compare(outcome.input(), output, EvaluationRequest.generated(GENERATED_SAMPLES));
            assertThat(result.samples()).as("samples run on %s", outcome.label()).isEqualTo(GENERATED_SAMPLES);
            assertThat(result.sqnrDb()).as("output SQNR of %s on generated inputs (NaN means NaN outputs)", outcome.label())
                    .isNotNaN();
            assertThat(result.cosineSimilarity()).as("output cosine similarity of %s on generated inputs", outcome.label())
                    .isNotNaN();
        });
    }

    @TestFactory
    public final Stream<DynamicTest> inputModelIsLeftUntouched() {
        return perModel("input model is left untouched", model -> {
            Outcome outcome = outcome(model).orFail();
            assertThat(outcome.input().toBytes())
                    .as("bytes of the input model %s after the technique ran", outcome.label())
                    .isEqualTo(outcome.bytesBefore());
            assertThat(Files.readAllBytes(model))
                    .as("the model file %s after the technique ran", model)
                    .isEqualTo(outcome.fileBefore());
        });
    }

    @TestFactory
    public final Stream<DynamicTest> reportIsComplete() {
        return perModel("report is complete", model -> {
            Outcome outcome = outcome(model).orFail();
            Report report = outcome.result().report();
            assertThat(report.values()).as("report of %s", outcome.label()).isNotEmpty();
            assertThat(report.toJson()).as("report of %s as JSON", outcome.label()).startsWith("{");
            List<Map<String, Object>> layers = report.layers();
            assertThat(layers).as("per-layer entries under 'layers' in the report of %s: %s", outcome.label(), report)
                    .isNotEmpty();
            SoftAssertions softly = new SoftAssertions();
            for (int i = 0; i < layers.size(); i++) {
                Map<String, Object> layer = layers.get(i);
                softly.assertThat(layer).as("layer %d of the report of %s", i, outcome.label()).isNotEmpty();
                Object name = layer.get("name");
                softly.assertThat(name != null && !String.valueOf(name).isBlank())
                        .as("layer %d of the report of %s names its layer under 'name': %s", i, outcome.label(), layer)
                        .isTrue();
            }
            softly.assertAll();
        });
    }

    @TestFactory
    public final Stream<DynamicTest> progressEventsAreWellFormed() {
        return perModel("progress events are well formed", model -> {
            Outcome outcome = outcome(model).orFail();
            SoftAssertions softly = new SoftAssertions();
            for (TestStepContext.ProgressEvent event : outcome.progressEvents()) {
                softly.assertThat(event.fraction()).as("progress fraction of %s on %s", event, outcome.label())
                        .isBetween(0.0, 1.0);
                softly.assertThat(event.message()).as("progress message of %s on %s", event, outcome.label()).isNotBlank();
            }
            softly.assertAll();
        });
    }

    @TestFactory
    public final Stream<DynamicTest> invalidParametersAreRejected() {
        List<InvalidParameterCase> cases = new ArrayList<>(invalidParameterCases());
        cases.addAll(derivedInvalidCases(techniqueUnderTest().descriptor().parameters()));
        return cases.stream().map(invalid -> DynamicTest.dynamicTest(invalid.parameters() + " is rejected naming '"
                + invalid.parameterName() + "'", () -> {
                    Map<String, String> values = new LinkedHashMap<>(validParameters());
                    values.putAll(invalid.parameters());
                    assertRejected(values, invalid.parameterName(), invalid.needsModel());
                }));
    }

    @Test
    public final void unknownParameterIsRejected() {
        Map<String, String> values = new LinkedHashMap<>(validParameters());
        values.put(UNKNOWN_PARAMETER, "1");
        assertRejected(values, UNKNOWN_PARAMETER);
    }

    private void assertRejected(Map<String, String> values, String parameterName) {
        assertRejected(values, parameterName, false);
    }

    private void assertRejected(Map<String, String> values, String parameterName, boolean needsModel) {
        Technique subject = techniqueUnderTest();
        // what the server runs at Submit: the specs, their value checks and the technique's rules across parameters
        Throwable thrown = catchThrowable(() -> Parameters.resolve(subject, values));
        if (thrown == null && !needsModel) {
            throw new AssertionError("parameters " + values + " passed validation (the specs, their value checks and "
                    + subject.descriptor().id() + "'s validate), so a pipeline with them would be queued and fail only on a "
                    + "worker: refuse them in validate, or mark the case InvalidParameterCase.whenRun if only the model shows them wrong");
        }
        if (thrown == null) {
            Parameters parameters = Parameters.resolve(subject, values);
            Path model = referenceModels().get(0);
            OnnxModel input = OnnxModel.load(model);
            try (TestStepContext context = stepContext(model).parameters(parameters)
                    .techniqueId(subject.descriptor().id()).build()) {
                thrown = catchThrowable(() -> subject.apply(input, parameters, context));
            }
        }
        assertThat(thrown).as("what %s threw for parameters %s", subject.descriptor().id(), values).isNotNull();
        boolean parameterError = thrown instanceof InvalidParametersException
                || thrown instanceof CondenseException condense && condense.code() == ErrorCode.INVALID_PARAMETER;
        if (!parameterError) {
            throw new AssertionError("parameters " + values + " should be refused with InvalidParametersException or a "
                    + "CondenseException with code INVALID_PARAMETER, but " + subject.descriptor().id() + " threw " + thrown,
                    thrown);
        }
        assertThat(thrown.getMessage()).as("message refusing parameters %s", values).contains(parameterName);
        if (thrown instanceof InvalidParametersException invalid) {
            assertThat(invalid.problems()).extracting(ParameterProblem::parameter)
                    .as("parameters named by the problems refusing %s", values).contains(parameterName);
        }
    }

    /** Values each spec's own rule refuses: outside the range, not a number, not a choice, not a boolean. */
    static List<InvalidParameterCase> derivedInvalidCases(List<ParameterSpec> specs) {
        List<InvalidParameterCase> cases = new ArrayList<>();
        for (ParameterSpec spec : specs) {
            String name = spec.name();
            switch (spec.type()) {
                case INTEGER, DOUBLE -> {
                    cases.add(InvalidParameterCase.of(name, "not_a_number"));
                    Range range = spec.range();
                    if (range != null) {
                        boolean integer = spec.type() == ParameterType.INTEGER;
                        if (range.min() != null) {
                            double below = range.minInclusive()
                                    ? (integer ? Math.ceil(range.min()) - 1 : range.min() - 1)
                                    : (integer ? Math.floor(range.min()) : range.min());
                            addIfOutside(cases, name, range, below, integer);
                        }
                        if (range.max() != null) {
                            double above = range.maxInclusive()
                                    ? (integer ? Math.floor(range.max()) + 1 : range.max() + 1)
                                    : (integer ? Math.ceil(range.max()) : range.max());
                            addIfOutside(cases, name, range, above, integer);
                        }
                    }
                }
                case CHOICE -> cases.add(InvalidParameterCase.of(name, "no_such_choice"));
                case BOOLEAN -> cases.add(InvalidParameterCase.of(name, "maybe"));
                case STRING, STRING_LIST -> {
                    // any text is valid
                }
                default -> throw new AssertionError(spec.type());
            }
        }
        return cases;
    }

    private static void addIfOutside(List<InvalidParameterCase> cases, String name, Range range, double value, boolean integer) {
        if (!range.contains(value) && Double.isFinite(value)) {
            cases.add(InvalidParameterCase.of(name, integer ? Long.toString((long) value) : Double.toString(value)));
        }
    }

    private static InferenceSession open(Evaluator evaluator, OnnxModel output, String label) {
        try {
            return evaluator.open(output);
        } catch (RuntimeException e) {
            throw new AssertionError("ONNX Runtime refuses the model written for " + label + ": " + e.getMessage(), e);
        }
    }

    private static void assertSameValues(SoftAssertions softly, String label, String kind, List<ValueSpec> expected,
            List<ValueSpec> actual) {
        softly.assertThat(names(actual)).as("%s names of the output model for %s", kind, label).isEqualTo(names(expected));
        for (ValueSpec want : expected) {
            for (ValueSpec have : actual) {
                if (have.name().equals(want.name())) {
                    softly.assertThat(have.dataType()).as("element type of %s '%s' for %s", kind, want.name(), label)
                            .isEqualTo(want.dataType());
                    softly.assertThat(have.shape()).as("shape of %s '%s' for %s (expected %s)", kind, want.name(), label,
                            Arrays.toString(want.shape())).isEqualTo(want.shape());
                }
            }
        }
    }

    private static List<String> names(List<ValueSpec> values) {
        List<String> names = new ArrayList<>(values.size());
        for (ValueSpec value : values) {
            names.add(value.name());
        }
        return names;
    }

    private Stream<DynamicTest> perModel(String what, ModelCheck check) {
        return referenceModels().stream().map(model -> DynamicTest.dynamicTest(what + ": " + label(model),
                () -> check.accept(model)));
    }

    @FunctionalInterface
    private interface ModelCheck {
        void accept(Path model) throws Exception;
    }

    private Outcome run(Path model) {
        String label = label(model);
        Technique subject = techniqueUnderTest();
        TestStepContext context = null;
        byte[] fileBefore;
        OnnxModel input;
        byte[] bytesBefore;
        try {
            fileBefore = Files.readAllBytes(model);
            input = OnnxModel.load(model);
            bytesBefore = input.toBytes();
        } catch (Exception e) {
            return Outcome.failed(label, new AssertionError("cannot load the reference model " + model + ": " + e, e));
        }
        try {
            context = stepContext(model).technique(subject, validParameters()).build();
            TechniqueResult result = subject.apply(input, context.parameters(), context);
            if (result == null) {
                return new Outcome(label, input, bytesBefore, fileBefore, null, context,
                        new AssertionError(subject.descriptor().id() + " returned a null result on " + label));
            }
            return new Outcome(label, input, bytesBefore, fileBefore, result, context, null);
        } catch (Throwable e) {
            return new Outcome(label, input, bytesBefore, fileBefore, null, context,
                    new AssertionError(subject.descriptor().id() + " with " + validParameters() + " failed on " + label
                            + ": " + e, e));
        }
    }

    private static String label(Path model) {
        Path shared = SharedData.directory();
        Path absolute = model.toAbsolutePath().normalize();
        return absolute.startsWith(shared) ? shared.relativize(absolute).toString() : model.toString();
    }

    /**
     * What running the technique on one reference model gave.
     *
     * @param label the model's path relative to the shared folder (or as given)
     * @param input the model as loaded, handed to the technique
     * @param bytesBefore the input model's bytes before the technique ran
     * @param fileBefore the model file's bytes before the technique ran
     * @param result what the technique returned (null when it failed)
     * @param context the step context it ran with (its progress events and meters)
     * @param failure why it failed (null when it did not)
     */
    protected record Outcome(String label, OnnxModel input, byte[] bytesBefore, byte[] fileBefore, TechniqueResult result,
            TestStepContext context, AssertionError failure) {

        static Outcome failed(String label, AssertionError failure) {
            return new Outcome(label, null, null, null, null, null, failure);
        }

        /** This outcome, or the failure thrown. */
        public Outcome orFail() {
            if (failure != null) {
                throw failure;
            }
            return this;
        }

        public List<TestStepContext.ProgressEvent> progressEvents() {
            return context == null ? List.of() : context.progressEvents();
        }
    }
}
