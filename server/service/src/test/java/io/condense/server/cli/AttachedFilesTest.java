package io.condense.server.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * Values written @FILE of parameters declared to take an uploaded file are files the command uploads and replaces by
 * their blob ids; an @ anywhere else is plain text, never read.
 */
class AttachedFilesTest {

    @Test
    void onlyParametersThatTakeAnUploadReadAFile() {
        var steps = PipelineParser.parse("prune(sparsity=0.5, exclude=@/etc/hostname) | distill(student=@models/student.onnx, width=0.5) "
                + "| x(a=@, b=\"@q.onnx\", c=@other.onnx)");
        Map<String, Set<String>> uploadable = Map.of("prune", Set.of(), "distill", Set.of("student"), "x", Set.of("a", "b"));
        assertThat(CompressCommand.attachedFiles(steps, uploadable)).containsExactly(Path.of("models/student.onnx"), Path.of("q.onnx"));
    }

    @Test
    void withoutAnyValueWrittenAtTheServerIsNotAskedWhichParametersTakeAFile() {
        assertThat(CompressCommand.mayAttach(PipelineParser.parse("prune(sparsity=0.5) | quantize(activations=true, exclude=\"a@b\")"))).isFalse();
        assertThat(CompressCommand.mayAttach(PipelineParser.parse("prune(sparsity=0.5, exclude=@)"))).isFalse();
        assertThat(CompressCommand.mayAttach(PipelineParser.parse("prune | distill(student=@s.onnx)"))).isTrue();
    }
}
