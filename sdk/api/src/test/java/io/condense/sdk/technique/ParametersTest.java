package io.condense.sdk.technique;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.condense.sdk.error.ErrorCode;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ParametersTest {
    private static final List<ParameterSpec> SPECS = List.of(
            ParameterSpec.doubleParameter("sparsity", 0.5, Range.closedOpen(0, 1), "share of weights set to zero"),
            ParameterSpec.integerParameter("bits", 8, Range.closed(2, 8), "bits per weight"),
            ParameterSpec.choiceParameter("scope", "layer", List.of("layer", "global"), "where the threshold applies"),
            ParameterSpec.booleanParameter("symmetric", true, "zero point at 0"),
            ParameterSpec.stringListParameter("exclude", "", "layer name patterns to skip"));

    @Test
    void defaultsAreFilledIn() {
        Parameters parameters = Parameters.validate(SPECS, Map.of());

        assertThat(parameters.getDouble("sparsity")).isEqualTo(0.5);
        assertThat(parameters.getInt("bits")).isEqualTo(8);
        assertThat(parameters.getString("scope")).isEqualTo("layer");
        assertThat(parameters.getBoolean("symmetric")).isTrue();
        assertThat(parameters.getStringList("exclude")).isEmpty();
    }

    @Test
    void explicitValuesAreToldApartFromDefaults() {
        Parameters parameters = Parameters.validate(SPECS, Map.of("bits", "4"));

        assertThat(parameters.isExplicit("bits")).isTrue();
        assertThat(parameters.isExplicit("sparsity")).isFalse();
        assertThat(parameters.isSet("sparsity")).isTrue();
        assertThatThrownBy(() -> parameters.isExplicit("nope")).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void givenValuesAreParsedAndTrimmed() {
        Parameters parameters = Parameters.validate(SPECS,
                Map.of("sparsity", " 0.9", "scope", "global", "symmetric", "FALSE", "exclude", "conv1, fc*,,"));

        assertThat(parameters.getDouble("sparsity")).isEqualTo(0.9);
        assertThat(parameters.getString("scope")).isEqualTo("global");
        assertThat(parameters.getBoolean("symmetric")).isFalse();
        assertThat(parameters.getStringList("exclude")).containsExactly("conv1", "fc*");
    }

    @Test
    void everyProblemIsReportedAtOnce() {
        Map<String, String> given = new LinkedHashMap<>();
        given.put("sparsity", "1.5");
        given.put("bits", "eight");
        given.put("scope", "everywhere");
        given.put("symmetric", "yes");
        given.put("sparsty", "0.3");

        List<ParameterProblem> problems = Parameters.check(SPECS, given);

        assertThat(problems).extracting(ParameterProblem::parameter)
                .containsExactlyInAnyOrder("sparsity", "bits", "scope", "symmetric", "sparsty");
        assertThatThrownBy(() -> Parameters.validate(SPECS, given))
                .isInstanceOfSatisfying(InvalidParametersException.class, e -> {
                    assertThat(e.code()).isEqualTo(ErrorCode.INVALID_PARAMETER);
                    assertThat(e.problems()).hasSize(5);
                    assertThat(e.getMessage())
                            .contains("Invalid value 1.5 for parameter 'sparsity': must be a number in [0, 1)")
                            .contains("Invalid value everywhere for parameter 'scope': must be one of layer, global")
                            .contains("parameter 'sparsty'").contains("known parameters are");
                });
    }

    @Test
    void problemNamesItsStepInAPipeline() {
        ParameterProblem problem = Parameters.check(SPECS, Map.of("sparsity", "1.5")).get(0);

        assertThat(problem.message(1, "prune"))
                .isEqualTo("Invalid value 1.5 for parameter 'sparsity' of step 1 (prune): must be a number in [0, 1)");
    }

    @Test
    void requiredParameterMustBeGiven() {
        List<ParameterSpec> specs = List.of(new ParameterSpec("rank", ParameterType.INTEGER, null, Range.atLeast(1), null, "rank"));

        assertThat(Parameters.check(specs, Map.of())).singleElement()
                .satisfies(p -> assertThat(p.message()).isEqualTo("Missing parameter 'rank': must be an integer in [1, +inf)"));
    }

    @Test
    void rangesDescribeThemselves() {
        assertThat(Range.closedOpen(0, 1)).hasToString("[0, 1)");
        assertThat(Range.open(0, 0.5)).hasToString("(0, 0.5)");
        assertThat(Range.atLeast(1).contains(1)).isTrue();
        assertThat(Range.greaterThan(1).contains(1)).isFalse();
        assertThat(Range.closedOpen(0, 1).contains(Double.NaN)).isFalse();
    }

    @Test
    void undeclaredNameIsAProgrammingError() {
        Parameters parameters = Parameters.validate(SPECS, Map.of());

        assertThatThrownBy(() -> parameters.getDouble("ratio")).isInstanceOf(IllegalArgumentException.class);
    }
}
