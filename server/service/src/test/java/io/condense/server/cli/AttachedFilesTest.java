package io.condense.server.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** Parameter values written @FILE are files the command uploads and replaces by their model ids. */
class AttachedFilesTest {

    @Test
    void valuesStartingWithAnAtAreFiles() {
        var steps = PipelineParser.parse("prune(sparsity=0.5) | distill(student=@models/student.onnx, width=0.5) | x(a=@, b=\"@q.onnx\")");
        assertThat(CompressCommand.attachedFiles(steps)).containsExactly(Path.of("models/student.onnx"), Path.of("q.onnx"));
    }
}
