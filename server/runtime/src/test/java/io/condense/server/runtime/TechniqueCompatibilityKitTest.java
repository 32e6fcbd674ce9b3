package io.condense.server.runtime;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClass;

import ai.onnx.proto.OnnxMl.ModelProto;
import io.condense.sdk.context.StepContext;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.technique.ParameterSpec;
import io.condense.sdk.technique.Parameters;
import io.condense.sdk.technique.Report;
import io.condense.sdk.technique.Technique;
import io.condense.sdk.technique.TechniqueDescriptor;
import io.condense.sdk.technique.TechniqueResult;
import io.condense.sdk.testkit.InvalidParameterCase;
import io.condense.sdk.testkit.SharedData;
import io.condense.sdk.testkit.TechniqueCompatibilityKit;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.platform.testkit.engine.EngineTestKit;
import org.junit.platform.testkit.engine.Event;
import org.junit.platform.testkit.engine.Events;

/**
 * The compatibility kit must fail deliberately broken techniques, each on the invariant it breaks and no other.
 * The broken subclasses are nested, so surefire does not run them on its own; JUnit's engine test kit does.
 */
class TechniqueCompatibilityKitTest {

    @BeforeAll
    static void needsTheSharedModels() {
        // the kit's checks run on the shared reference models; without them every check skips and nothing can fail
        Assumptions.assumeTrue(SharedData.isAvailable(), "the shared models folder (../shared) is absent");
    }

    @Test
    void aWellBehavedTechniquePassesEverything() {
        Events tests = run(WellBehaved.class);
        assertThat(tests.failed().count()).as(describe(tests.failed())).isZero();
        assertThat(tests.succeeded().count()).isGreaterThanOrEqualTo(8);
    }

    @Test
    void anOutputWithARenamedOutputFailsTheSignatureCheck() {
        assertOnlyFailing(RenamesItsOutput.class, "output runs in ONNX Runtime with the same inputs and outputs");
    }

    @Test
    void anOutputOnnxRuntimeCannotRunFailsTheSignatureCheck() {
        assertOnlyFailing(WritesAnUnknownOperator.class, "output runs in ONNX Runtime with the same inputs and outputs");
    }

    @Test
    void aReportWithoutLayersFails() {
        assertOnlyFailing(ReportsNoLayers.class, "report is complete");
    }

    @Test
    void aParameterWithoutItsRangeFailsTheInvalidCase() {
        assertOnlyFailing(DeclaresNoRange.class, "{level=99} is rejected naming 'level'");
    }

    @Test
    void anUndocumentedParameterFailsTheDescriptorCheck() {
        assertOnlyFailing(UndocumentedParameter.class, "descriptorIsSane()");
    }

    @Test
    void progressOutsideTheUnitRangeFails() {
        assertOnlyFailing(ReportsProgressAboveOne.class, "progress events are well formed");
    }

    private static void assertOnlyFailing(Class<?> kit, String expected) {
        Events tests = run(kit);
        Set<String> failed = names(tests.failed());
        assertThat(failed).as("failing tests of %s: %s", kit.getSimpleName(), describe(tests.failed())).isNotEmpty();
        assertThat(failed).allSatisfy(name -> assertThat(name).startsWith(expected));
        assertThat(tests.succeeded().count()).as("tests of %s that passed", kit.getSimpleName()).isPositive();
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

    /** Base of the nested kits: mnist8 only, to keep these runs short. */
    abstract static class OnMnist8 extends TechniqueCompatibilityKit {
        @Override
        protected List<Path> referenceModels() {
            return List.of(SharedData.model("mnist8/model.onnx"));
        }

        @Override
        protected Map<String, String> validParameters() {
            return Map.of();
        }
    }

    static class WellBehaved extends OnMnist8 {
        @Override
        protected Technique technique() {
            return new CopyTechnique();
        }
    }

    static class RenamesItsOutput extends OnMnist8 {
        @Override
        protected Technique technique() {
            return new CopyTechnique() {
                @Override
                public TechniqueResult apply(OnnxModel model, Parameters parameters, StepContext context) {
                    TechniqueResult copy = super.apply(model, parameters, context);
                    ModelProto.Builder builder = model.proto().toBuilder();
                    String output = builder.getGraph().getOutput(0).getName();
                    builder.getGraphBuilder().addNodeBuilder().setOpType("Identity").addInput(output).addOutput("renamed");
                    builder.getGraphBuilder().getOutputBuilder(0).setName("renamed");
                    return new TechniqueResult(OnnxModel.of(builder.build()), copy.report());
                }
            };
        }
    }

    static class WritesAnUnknownOperator extends OnMnist8 {
        @Override
        protected Technique technique() {
            return new CopyTechnique() {
                @Override
                public TechniqueResult apply(OnnxModel model, Parameters parameters, StepContext context) {
                    TechniqueResult copy = super.apply(model, parameters, context);
                    ModelProto.Builder builder = model.proto().toBuilder();
                    String output = builder.getGraph().getOutput(0).getName();
                    for (int i = 0; i < builder.getGraph().getNodeCount(); i++) {
                        if (builder.getGraph().getNode(i).getOutputList().contains(output)) {
                            builder.getGraphBuilder().getNodeBuilder(i).setOpType("NoSuchOperator");
                        }
                    }
                    return new TechniqueResult(OnnxModel.of(builder.build()), copy.report());
                }
            };
        }
    }

    static class ReportsNoLayers extends OnMnist8 {
        @Override
        protected Technique technique() {
            return new CopyTechnique() {
                @Override
                public TechniqueResult apply(OnnxModel model, Parameters parameters, StepContext context) {
                    return new TechniqueResult(model, Report.builder().put("total", 1).build());
                }
            };
        }
    }

    static class DeclaresNoRange extends OnMnist8 {
        @Override
        protected Technique technique() {
            return new CopyTechnique() {
                @Override
                public TechniqueDescriptor descriptor() {
                    return new TechniqueDescriptor("copy", "1.0.0", "copies", "testing", List.of(
                            ParameterSpec.doubleParameter("fraction", 0.5, null, "unused"),
                            ParameterSpec.integerParameter("level", 1, null, "unused, and unchecked"),
                            ParameterSpec.choiceParameter("mode", "fast", List.of("fast", "exact"), "unused")));
                }
            };
        }

        @Override
        protected List<InvalidParameterCase> invalidParameterCases() {
            return List.of(InvalidParameterCase.of("level", "99"));
        }
    }

    static class UndocumentedParameter extends OnMnist8 {
        @Override
        protected Technique technique() {
            return new CopyTechnique() {
                @Override
                public TechniqueDescriptor descriptor() {
                    return new TechniqueDescriptor("copy", "1.0.0", "copies", "testing", List.of(
                            ParameterSpec.doubleParameter("fraction", 0.5, null, " "),
                            ParameterSpec.integerParameter("level", 1, null, "documented"),
                            ParameterSpec.choiceParameter("mode", "fast", List.of("fast", "exact"), "documented")));
                }
            };
        }
    }

    static class ReportsProgressAboveOne extends OnMnist8 {
        @Override
        protected Technique technique() {
            return new CopyTechnique() {
                @Override
                public TechniqueResult apply(OnnxModel model, Parameters parameters, StepContext context) {
                    context.progress(1.5, "too far");
                    return super.apply(model, parameters, context);
                }
            };
        }
    }
}
