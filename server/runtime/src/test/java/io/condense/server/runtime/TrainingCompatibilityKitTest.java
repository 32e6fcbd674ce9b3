package io.condense.server.runtime;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClass;

import io.condense.sdk.context.StepContext;
import io.condense.sdk.data.Dataset;
import io.condense.sdk.data.NdArray;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.model.InitializerInfo;
import io.condense.sdk.model.ModelEditor;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.technique.ParameterSpec;
import io.condense.sdk.technique.Parameters;
import io.condense.sdk.technique.Range;
import io.condense.sdk.technique.Report;
import io.condense.sdk.technique.Technique;
import io.condense.sdk.technique.TechniqueDescriptor;
import io.condense.sdk.technique.TechniqueResult;
import io.condense.sdk.tensor.DataType;
import io.condense.sdk.tensor.Tensor;
import io.condense.sdk.testkit.SharedData;
import io.condense.sdk.testkit.TrainingCompatibilityKit;
import io.condense.sdk.training.EpochSummary;
import io.condense.sdk.training.Trainer;
import io.condense.sdk.training.TrainingListener;
import io.condense.sdk.training.TrainingProgress;
import io.condense.sdk.training.TrainingRequest;
import io.condense.sdk.training.TrainingResult;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.OptionalDouble;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.platform.testkit.engine.EngineTestKit;
import org.junit.platform.testkit.engine.Event;
import org.junit.platform.testkit.engine.Events;

/**
 * The training check of the test kit must fail deliberately broken training techniques, each on the invariant it breaks
 * and no other. The kits are nested, so surefire does not run them on their own; JUnit's engine test kit does. They
 * train with a hand-written trainer ({@link NudgeTrainer}: seeded steps on every float weight, batch by batch, with
 * progress and cancellation as the host's), supplied through {@code trainer()}, so this module needs no training runtime.
 */
class TrainingCompatibilityKitTest {

    @BeforeAll
    static void needsTheSharedModels() {
        Assumptions.assumeTrue(SharedData.isAvailable(), "the shared models folder (../shared) is absent");
    }

    @Test
    void aWellBehavedTrainingTechniquePassesEverything() {
        Events tests = run(WellBehaved.class);
        assertThat(tests.failed().count()).as(describe(tests.failed())).isZero();
        assertThat(tests.succeeded().count()).isEqualTo(9);
    }

    @Test
    void returningTheModelWithoutTrainingDataFailsTheDataCheck() {
        assertOnlyFailing(IgnoresMissingTrainingData.class, "withoutTrainingDataTheStepFailsWithDataRequiredNamingTrainData()");
    }

    @Test
    void theWrongErrorWithoutATrainerFailsTheTrainerCheck() {
        assertOnlyFailing(WrongErrorWithoutATrainer.class, "withoutATrainerTheStepFailsWithUnavailable()");
    }

    @Test
    void ignoringCancellationFailsTheCancellationCheck() {
        assertOnlyFailing(IgnoresCancellation.class, "aCancelledJobEndsWithCancelledAndNoModel()");
    }

    @Test
    void aClockSeedFailsTheRepeatabilityCheck() {
        assertOnlyFailing(SeedsFromTheClock.class, "theSameSeedGivesAByteIdenticalModel()");
    }

    @Test
    void returningTheInputUnchangedFailsTheWeightChecks() {
        assertOnlyFailing(ReturnsTheInput.class, "trainingChangesFloatWeights()", "anotherSeedGivesOtherWeights()");
    }

    @Test
    void progressThatGoesBackFailsTheProgressCheck() {
        assertOnlyFailing(ProgressGoesBack.class, "progressIsReportedInTheUnitRangeAndMovesForward()");
    }

    private static void assertOnlyFailing(Class<?> kit, String... expected) {
        Events tests = run(kit);
        assertThat(names(tests.failed())).as("failing tests of %s: %s", kit.getSimpleName(), describe(tests.failed()))
                .containsExactlyInAnyOrder(expected);
        assertThat(tests.succeeded().count()).as("tests of %s that passed", kit.getSimpleName()).isEqualTo(9 - expected.length);
    }

    private static Events run(Class<?> kit) {
        return EngineTestKit.engine("junit-jupiter").selectors(selectClass(kit)).execute().testEvents();
    }

    private static Set<String> names(Events events) {
        Set<String> names = new TreeSet<>();
        events.stream().map(Event::getTestDescriptor).forEach(test -> names.add(test.getDisplayName()));
        return names;
    }

    private static String describe(Events failed) {
        StringBuilder text = new StringBuilder();
        failed.stream().forEach(event -> text.append(event.getTestDescriptor().getDisplayName()).append(": ")
                .append(event.getPayload(org.junit.platform.engine.TestExecutionResult.class)
                        .flatMap(org.junit.platform.engine.TestExecutionResult::getThrowable)
                        .map(Throwable::getMessage).orElse("?"))
                .append('\n'));
        return text.toString();
    }

    /**
     * A real (if simple) trainer: every batch moves every float32 initializer by small steps drawn from the request's
     * seed, reports the batch, checks cancellation before it, and sums up every epoch.
     */
    static final class NudgeTrainer implements Trainer {
        @Override
        public List<String> unsupportedOperators(OnnxModel model) {
            return List.of();
        }

        @Override
        public TrainingResult train(TrainingRequest request) {
            OnnxModel model = request.model();
            Random random = new Random(request.seed());
            int samples = request.trainingData().size();
            int batches = (samples + request.batchSize() - 1) / request.batchSize();
            List<String> names = new ArrayList<>();
            List<float[]> values = new ArrayList<>();
            for (InitializerInfo info : model.initializers()) {
                if (info.dataType() == DataType.FLOAT) {
                    names.add(info.name());
                    values.add(model.tensor(info.name()).toFloatArray());
                }
            }
            List<EpochSummary> history = new ArrayList<>();
            for (int epoch = 0; epoch < request.epochs(); epoch++) {
                for (int batch = 1; batch <= batches; batch++) {
                    if (request.cancelled().getAsBoolean()) {
                        throw new CondenseException(ErrorCode.CANCELLED, "training was cancelled");
                    }
                    double rate = request.schedule().rate(epoch, (batch - 1.0) / batches);
                    for (float[] tensor : values) {
                        for (int i = 0; i < tensor.length; i++) {
                            tensor[i] += (float) (rate * 0.01 * (random.nextDouble() - 0.5));
                        }
                    }
                    request.listener().onBatch(new TrainingProgress(epoch, request.epochs(), batch, batches, 1.0 / (epoch + 1), 0.5, rate));
                }
                EpochSummary summary = new EpochSummary(epoch, 1.0 / (epoch + 1), 0.5, OptionalDouble.empty(), samples, 0.01);
                history.add(summary);
                request.listener().onEpoch(summary);
            }
            ModelEditor editor = model.edit();
            for (int i = 0; i < names.size(); i++) {
                editor.putInitializer(Tensor.fromFloats(names.get(i), DataType.FLOAT, model.tensor(names.get(i)).shape(), values.get(i)).toProto());
            }
            return new TrainingResult(editor.build(), history, names);
        }

        @Override
        public Map<String, NdArray> run(OnnxModel model, Map<String, NdArray> inputs) {
            throw new UnsupportedOperationException("the nudge trainer only trains");
        }

        @Override
        public double accuracy(OnnxModel model, Dataset data, float inputScale, int batchSize) {
            throw new UnsupportedOperationException("the nudge trainer only trains");
        }
    }

    /** A technique that trains through the step context's trainer, as a training technique must. */
    static class NudgeTechnique implements Technique {
        static final TechniqueDescriptor DESCRIPTOR = new TechniqueDescriptor("nudge", "1.0.0", "Trains every float weight a little",
                "testing", List.of(
                        ParameterSpec.integerParameter("epochs", 2, Range.closed(1, 10), "passes over the training data"),
                        ParameterSpec.integerParameter("batch", 16, Range.closed(1, 1024), "samples per step"),
                        ParameterSpec.integerParameter("seed", 42, Range.atLeast(0), "the training's seed")));

        @Override
        public TechniqueDescriptor descriptor() {
            return DESCRIPTOR;
        }

        @Override
        public TechniqueResult apply(OnnxModel model, Parameters parameters, StepContext context) {
            Dataset data = context.trainingData().orElseThrow(() -> new CondenseException(ErrorCode.DATA_REQUIRED,
                    "nudge needs training data: pass --train-data and --train-labels"));
            Trainer trainer = context.trainer().orElseThrow(() -> new CondenseException(ErrorCode.UNAVAILABLE,
                    "nudge needs the host's training runtime"));
            context.progress(0, "training");
            TrainingResult result = trainer.train(TrainingRequest.builder(model, data).epochs(parameters.getInt("epochs"))
                    .batchSize(parameters.getInt("batch")).seed(seed(parameters)).listener(TrainingListener.reportingTo(context))
                    .cancelled(cancellation(context)).build());
            context.progress(1, "trained");
            return new TechniqueResult(output(model, result), Report.builder().put("epochs", parameters.getInt("epochs")).build());
        }

        long seed(Parameters parameters) {
            return parameters.getLong("seed");
        }

        BooleanSupplier cancellation(StepContext context) {
            return context::isCancelled;
        }

        OnnxModel output(OnnxModel input, TrainingResult result) {
            return result.model();
        }
    }

    /** Base of the nested kits: mnist8 and 64 shared digits, the nudge trainer. */
    abstract static class OnMnist8 extends TrainingCompatibilityKit {
        @Override
        protected Map<String, String> trainingParameters() {
            return Map.of("epochs", "2");
        }

        @Override
        protected OnnxModel referenceModel() {
            return OnnxModel.load(SharedData.model("mnist8/model.onnx"));
        }

        @Override
        protected Dataset trainingData() {
            return SharedData.mnistDigits(64, 1f / 255);
        }

        @Override
        protected Trainer trainer() {
            return new NudgeTrainer();
        }
    }

    static class WellBehaved extends OnMnist8 {
        @Override
        protected Technique technique() {
            return new NudgeTechnique();
        }
    }

    static class IgnoresMissingTrainingData extends OnMnist8 {
        @Override
        protected Technique technique() {
            return new NudgeTechnique() {
                @Override
                public TechniqueResult apply(OnnxModel model, Parameters parameters, StepContext context) {
                    if (context.trainingData().isEmpty()) {
                        return new TechniqueResult(model, Report.builder().put("skipped", true).build());
                    }
                    return super.apply(model, parameters, context);
                }
            };
        }
    }

    static class WrongErrorWithoutATrainer extends OnMnist8 {
        @Override
        protected Technique technique() {
            return new NudgeTechnique() {
                @Override
                public TechniqueResult apply(OnnxModel model, Parameters parameters, StepContext context) {
                    if (context.trainer().isEmpty()) {
                        throw new IllegalStateException("no trainer");
                    }
                    return super.apply(model, parameters, context);
                }
            };
        }
    }

    static class IgnoresCancellation extends OnMnist8 {
        @Override
        protected Technique technique() {
            return new NudgeTechnique() {
                @Override
                BooleanSupplier cancellation(StepContext context) {
                    return () -> false;
                }
            };
        }
    }

    static class SeedsFromTheClock extends OnMnist8 {
        @Override
        protected Technique technique() {
            return new NudgeTechnique() {
                @Override
                long seed(Parameters parameters) {
                    return System.nanoTime();
                }
            };
        }
    }

    static class ReturnsTheInput extends OnMnist8 {
        @Override
        protected Technique technique() {
            return new NudgeTechnique() {
                @Override
                OnnxModel output(OnnxModel input, TrainingResult result) {
                    return OnnxModel.of(input.proto());
                }
            };
        }
    }

    static class ProgressGoesBack extends OnMnist8 {
        @Override
        protected Technique technique() {
            return new NudgeTechnique() {
                @Override
                public TechniqueResult apply(OnnxModel model, Parameters parameters, StepContext context) {
                    TechniqueResult result = super.apply(model, parameters, context);
                    context.progress(0.5, "measuring again");
                    return result;
                }
            };
        }
    }
}
