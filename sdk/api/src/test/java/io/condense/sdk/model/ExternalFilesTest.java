package io.condense.sdk.model;

import static org.assertj.core.api.Assertions.assertThat;

import ai.onnx.proto.OnnxMl.ModelProto;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What a model file names as external data, seen without reading it, and the model with those names changed. */
class ExternalFilesTest {
    @TempDir
    Path folder;

    @Test
    void aModelSavedWithExternalDataNamesItsDataFileAndRenamingIt() throws Exception {
        Path file = folder.resolve("big.onnx");
        OnnxModel original = OnnxModelTest.mnist8();
        original.save(file, 0);
        ModelProto stored = ExternalFiles.readModelFile(file);
        Map<String, String> locations = ExternalFiles.locations(stored);
        assertThat(locations).containsOnlyKeys("big.onnx.data");
        assertThat(original.isInitializer(locations.get("big.onnx.data"))).isTrue();
        assertThat(ExternalFiles.locations(original.proto())).as("a loaded model holds its tensors").isEmpty();

        // renamed, with the data file moved to match: loads with the same tensors
        Path moved = folder.resolve("moved");
        Files.createDirectories(moved);
        Files.move(folder.resolve("big.onnx.data"), moved.resolve("small.onnx.data"));
        Files.write(moved.resolve("small.onnx"), ExternalFiles.renamed(stored, Map.of("big.onnx.data", "small.onnx.data")).toByteArray());
        assertThat(ExternalFiles.locations(ExternalFiles.readModelFile(moved.resolve("small.onnx")))).containsOnlyKeys("small.onnx.data");
        OnnxModel loaded = OnnxModel.load(moved.resolve("small.onnx"));
        for (InitializerInfo initializer : original.initializers()) {
            assertThat(loaded.tensor(initializer.name()).toFloatArray()).isEqualTo(original.tensor(initializer.name()).toFloatArray());
        }
    }

    @Test
    void dataFileNamesMustStayInsideTheModelsFolder() {
        assertThat(ExternalFiles.locationProblem("big.onnx.data")).isEmpty();
        assertThat(ExternalFiles.locationProblem("weights/part1.bin")).isEmpty();
        assertThat(ExternalFiles.locationProblem("../secret")).get().asString().contains("leaves the model's folder");
        assertThat(ExternalFiles.locationProblem("a/../../b")).get().asString().contains("leaves the model's folder");
        assertThat(ExternalFiles.locationProblem("/etc/passwd")).get().asString().contains("absolute path");
        assertThat(ExternalFiles.locationProblem("C:\\weights")).get().asString().contains("absolute path");
        assertThat(ExternalFiles.locationProblem("")).get().asString().contains("empty");
    }
}
