package io.condense.server.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.condense.proto.v1.PipelineStep;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import java.util.List;
import org.junit.jupiter.api.Test;

class PipelineParserTest {

    @Test
    void parsesStepsWithParametersInOrder() {
        List<PipelineStep> steps = PipelineParser.parse(" prune(sparsity=0.5, scope = global) | quantize(bits=8)|slow ");
        assertThat(steps).extracting(PipelineStep::getTechnique).containsExactly("prune", "quantize", "slow");
        assertThat(steps.get(0).getParametersMap()).containsEntry("sparsity", "0.5").containsEntry("scope", "global");
        assertThat(steps.get(1).getParametersMap()).containsOnlyKeys("bits");
        assertThat(steps.get(2).getParametersMap()).isEmpty();
    }

    @Test
    void quotedValuesMayHoldCommasAndParentheses() {
        List<PipelineStep> steps = PipelineParser.parse("prune(exclude=\"conv1,fc(2)\", x='it\\'s')");
        assertThat(steps.get(0).getParametersMap()).containsEntry("exclude", "conv1,fc(2)").containsEntry("x", "it's");
    }

    @Test
    void emptyParenthesesAreAllowed() {
        assertThat(PipelineParser.parse("quantize()").get(0).getParametersMap()).isEmpty();
    }

    @Test
    void aSyntaxErrorPointsAtTheCharacter() {
        assertThatThrownBy(() -> PipelineParser.parse("prune(sparsity=0.5 | quantize"))
                .isInstanceOfSatisfying(CondenseException.class, e -> {
                    assertThat(e.code()).isEqualTo(ErrorCode.INVALID_PIPELINE);
                    assertThat(e.getMessage()).isEqualTo("pipeline syntax error at character 20: expected ',' or ')' after the value of 'sparsity' but found '|'"
                            .replace(" but found '|'", "")
                            + "\n  prune(sparsity=0.5 | quantize\n                     ^");
                });
    }

    @Test
    void reportsMissingSeparatorsAndValues() {
        assertThatThrownBy(() -> PipelineParser.parse("prune quantize")).hasMessageContaining("at character 7: expected '|' between steps");
        assertThatThrownBy(() -> PipelineParser.parse("prune(sparsity=)")).hasMessageContaining("at character 16: expected a value for 'sparsity'");
        assertThatThrownBy(() -> PipelineParser.parse("prune(sparsity)")).hasMessageContaining("expected '=' after parameter name 'sparsity'");
        assertThatThrownBy(() -> PipelineParser.parse("prune(a=1, a=2)")).hasMessageContaining("parameter 'a' is given twice");
        assertThatThrownBy(() -> PipelineParser.parse("prune | ")).hasMessageContaining("expected a technique name but the pipeline ends");
        assertThatThrownBy(() -> PipelineParser.parse("  ")).hasMessageContaining("the pipeline is empty");
        assertThatThrownBy(() -> PipelineParser.parse("prune(x=\"open")).hasMessageContaining("this quote is never closed");
    }
}
