package io.condense.server.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.condense.proto.v1.PipelineStep;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RecipeTest {
    @TempDir
    Path folder;

    @Test
    void yamlStepsWithCommentsListsAndBareTechniquesGiveTheSameStepsAsThePipelineText() throws Exception {
        Path file = write("deep.yaml", """
                # Deep Compression
                description: prune, share, train
                steps:
                  - prune: {sparsity: 0.92, scope: global}   # one threshold
                  - finetune:
                      epochs: 16
                  - quantize: {scheme: kmeans, bits: 6, exclude: [conv1, "fc*"]}
                  - encode
                """);
        assertThat(Recipe.read(file)).isEqualTo(PipelineParser.parse(
                "prune(sparsity=0.92, scope=global) | finetune(epochs=16) | quantize(scheme=kmeans, bits=6, exclude=\"conv1,fc*\") | encode"));
    }

    @Test
    void jsonAndThePipelineTextAreRecipesToo() throws Exception {
        List<PipelineStep> json = Recipe.read(write("p.json", "{\"steps\": [{\"prune\": {\"sparsity\": 0.5}}, \"quantize\"]}"));
        assertThat(json).isEqualTo(PipelineParser.parse("prune(sparsity=0.5) | quantize"));
        assertThat(Recipe.read(write("t.yaml", "pipeline: \"prune(sparsity=0.5) | quantize(bits=8)\"")))
                .isEqualTo(PipelineParser.parse("prune(sparsity=0.5) | quantize(bits=8)"));
    }

    @Test
    void aBrokenRecipeIsRefusedSayingWhereAndWhat() throws Exception {
        assertRefused("steps:\n  - prune: [0.5]\n", "step 1 (prune) must be a mapping");
        assertRefused("steps: []\n", "'steps' must be a non-empty list");
        assertRefused("stpes:\n  - prune\n", "unknown top-level key 'stpes'");
        assertRefused("steps:\n  - prune: {sparsity: 0.5}\n    quantize: {bits: 8}\n", "step 1 must be a technique name");
        assertRefused("steps:\n  - prune: {sparsity: {value: 0.5}}\n", "parameter 'sparsity' of step 1 (prune) must be a plain value");
        assertRefused("steps:\n  - prune: {sparsity: 0.5\n", "not valid YAML or JSON");
        assertRefused("steps:\n  - prune: {sparsity: 0.5, sparsity: 0.6}\n", "not valid YAML or JSON");
        assertRefused("- prune\n", "expected a mapping with 'steps'");
    }

    private void assertRefused(String text, String expected) throws Exception {
        Path file = write("bad.yaml", text);
        assertThatThrownBy(() -> Recipe.read(file))
                .isInstanceOfSatisfying(CondenseException.class, e -> {
                    assertThat(e.code()).isEqualTo(ErrorCode.INVALID_PIPELINE);
                    assertThat(e.getMessage()).contains(file.toString()).contains(expected);
                });
    }

    private Path write(String name, String text) throws Exception {
        return Files.writeString(folder.resolve(name), text);
    }
}
