package io.condense.sdk.technique;

import static org.assertj.core.api.Assertions.assertThat;

import io.condense.sdk.model.LayerSelection;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class SelectionParametersTest {
    private static final List<ParameterSpec> SPECS = List.of(
            ParameterSpec.integerParameter("bits", 8, Range.closed(2, 8), "bits per weight"),
            SelectionParameters.exclude("Layers to leave alone"),
            SelectionParameters.minElements(256, "Layers whose weight has fewer elements are left alone."));

    @Test
    void specsShareTheNamesAndThePatternSyntax() {
        ParameterSpec exclude = SPECS.get(1);
        assertThat(exclude.name()).isEqualTo("exclude");
        assertThat(exclude.type()).isEqualTo(ParameterType.STRING_LIST);
        assertThat(exclude.documentation()).isEqualTo("Layers to leave alone: comma-separated globs (* any characters, ? one "
                + "character) matched against the whole node name, the node's first output and the weight's initializer name; "
                + "prefix a pattern with regex: for a Java regular expression.");
        ParameterSpec minElements = SPECS.get(2);
        assertThat(minElements.name()).isEqualTo("min_elements");
        assertThat(Parameters.validate(SPECS, Map.of()).getLong("min_elements")).isEqualTo(256);
        assertThat(Parameters.check(SPECS, Map.of("min_elements", "-1"))).hasSize(1);
    }

    @Test
    void selectionComesFromTheParameters() {
        LayerSelection selection = SelectionParameters.layerSelection(
                Parameters.validate(SPECS, Map.of("exclude", "conv1, regex:fc[0-9]", "min_elements", "10")), new ArrayList<>());
        assertThat(selection.excludePatterns()).containsExactly("conv1", "regex:fc[0-9]");
        assertThat(selection.minElements()).isEqualTo(10);
    }

    @Test
    void badPatternsAreRefusedByTheExcludeSpecsValueCheckAtValidation() {
        List<ParameterProblem> problems = Parameters.check(SPECS, Map.of("exclude", "conv*,regex:conv(1,regex:["));
        assertThat(problems).extracting(ParameterProblem::parameter).containsExactly("exclude");
        assertThat(problems.get(0).value()).isEqualTo("conv*,regex:conv(1,regex:[");
        assertThat(problems.get(0).rule()).contains("'regex:conv(1' is not a valid regular expression");
        assertThat(Parameters.check(SPECS, Map.of("exclude", "conv*,regex:conv[12]"))).isEmpty();
    }
}
