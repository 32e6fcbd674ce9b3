package io.condense.sdk.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.condense.sdk.data.Dataset;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.tensor.DataType;
import io.condense.sdk.technique.ParameterSpec;
import io.condense.sdk.technique.Parameters;
import io.condense.sdk.technique.Range;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class TestKitSmokeTest {

    @Test
    void withoutARuntimeTheEvaluatorLookupSaysWhatToAdd() {
        assertThat(Evaluators.find()).isEmpty();
        assertThatThrownBy(Evaluators::fromServiceLoader)
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("io.condense:condense-runtime");
    }

    @Test
    void theSharedDigitsAreRealLabelledDigits() {
        Dataset digits = SharedData.mnistDigits(100, 1f / 255);
        assertThat(digits.inputs().shape()).containsExactly(100, 1, 28, 28);
        assertThat(digits.inputs().dataType()).isEqualTo(DataType.FLOAT);
        assertThat(digits.labels()).isPresent();
        long[] labels = digits.labels().get().toLongArray();
        assertThat(java.util.Arrays.stream(labels).allMatch(label -> label >= 0 && label <= 9)).isTrue();
        assertThat(java.util.Arrays.stream(labels).distinct().count()).isEqualTo(10);
        float[] pixels = digits.inputs().floatData();
        float max = 0;
        for (float pixel : pixels) {
            max = Math.max(max, pixel);
        }
        assertThat(max).isEqualTo(1f);
        Dataset bytes = SharedData.mnistDigitsAsBytes(100);
        assertThat(bytes.inputs().shape()).containsExactly(100, 28, 28);
        assertThat(bytes.inputs().getFloat(300) * (1f / 255)).isEqualTo(pixels[300]);
        assertThatThrownBy(() -> SharedData.mnistDigits(10_001, 1f)).hasMessageContaining("10000");
    }

    @Test
    void sharedModelsAreFoundAndMissingOnesSkip() {
        assertThat(SharedData.model("mnist8/model.onnx")).isRegularFile();
        assertThatThrownBy(() -> SharedData.model("no/such/model.onnx"))
                .isInstanceOf(org.opentest4j.TestAbortedException.class)
                .hasMessageContaining("no/such/model.onnx")
                .hasMessageContaining(SharedData.DIRECTORY_PROPERTY);
    }

    @Test
    void theStepContextRecordsProgressCancelsAndCleansUp() {
        Path scratch;
        try (TestStepContext context = TestStepContext.builder().techniqueId("prune").cancelAfterProgressEvents(2).build()) {
            scratch = context.scratchDirectory();
            assertThat(scratch).isDirectory();
            assertThat(context.evaluator()).isEmpty();
            context.meterRegistry().counter("condense.test").increment();
            assertThat(context.meterRegistry().get("condense.test").tag("technique", "prune").counter().count()).isEqualTo(1);
            context.progress(0.5, "half");
            assertThat(context.isCancelled()).isFalse();
            context.progress(1, "done");
            assertThat(context.isCancelled()).isTrue();
            assertThat(context.progressEvents()).containsExactly(
                    new TestStepContext.ProgressEvent(0.5, "half"), new TestStepContext.ProgressEvent(1, "done"));
            assertThatThrownBy(context::checkCancelled)
                    .isInstanceOfSatisfying(CondenseException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.CANCELLED));
        }
        assertThat(Files.exists(scratch)).isFalse();
    }

    @Test
    void derivedInvalidValuesBreakTheirOwnSpecs() {
        List<ParameterSpec> specs = List.of(
                ParameterSpec.doubleParameter("sparsity", 0.5, Range.closedOpen(0, 1), "fraction of weights set to zero"),
                ParameterSpec.integerParameter("bits", 8, Range.closed(2, 8), "bits per weight"),
                ParameterSpec.choiceParameter("scope", "layer", List.of("layer", "global"), "where"),
                ParameterSpec.booleanParameter("bias", false, "also biases"),
                ParameterSpec.stringListParameter("skip", "", "layers to skip"));
        List<InvalidParameterCase> cases = TechniqueCompatibilityKit.derivedInvalidCases(specs);
        assertThat(cases).extracting(InvalidParameterCase::parameters).containsExactly(
                Map.of("sparsity", "not_a_number"), Map.of("sparsity", "-1.0"), Map.of("sparsity", "1.0"),
                Map.of("bits", "not_a_number"), Map.of("bits", "1"), Map.of("bits", "9"),
                Map.of("scope", "no_such_choice"), Map.of("bias", "maybe"));
        for (InvalidParameterCase invalid : cases) {
            assertThat(Parameters.check(specs, invalid.parameters())).as(invalid.toString())
                    .extracting(problem -> problem.parameter()).containsExactly(invalid.parameterName());
        }
    }
}
