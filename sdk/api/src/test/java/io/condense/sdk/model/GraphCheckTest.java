package io.condense.sdk.model;

import static io.condense.sdk.Onnx.floats;
import static io.condense.sdk.Onnx.model;
import static io.condense.sdk.Onnx.node;
import static io.condense.sdk.Onnx.value;
import static org.assertj.core.api.Assertions.assertThat;

import ai.onnx.proto.OnnxMl.ModelProto;
import java.util.List;
import org.junit.jupiter.api.Test;

class GraphCheckTest {

    @Test
    void aSoundGraphHasNoProblemEvenWithItsNodesOutOfOrder() {
        ModelProto sound = model(13, List.of(value("x", 1, 2)), List.of(value("y", 1, 2)),
                List.of(node("Relu", List.of("t"), List.of("y")), node("Add", List.of("x", "w"), List.of("t"))),
                List.of(floats("w", new long[] {2}, 1f, 2f)));
        assertThat(GraphCheck.problems(sound)).isEmpty();
        assertThat(GraphCheck.problems(OnnxModelTest.tinyModel())).isEmpty();
    }

    @Test
    void everyBrokenNameIsNamed() {
        ModelProto broken = model(13, List.of(value("x", 1, 2)), List.of(value("y", 1, 2), value("z", 1, 2)),
                List.of(node("Add", List.of("x", "missing_weight"), List.of("t")), node("Relu", List.of("t"), List.of("t")),
                        node("Identity", List.of("t"), List.of("y"))),
                List.of());
        assertThat(GraphCheck.problems(broken)).containsExactly(
                "'t' is written by node 'Relu_t' (Relu) and already by node 'Add_t' (Add)",
                "node 'Add_t' (Add) reads 'missing_weight', which no node, initializer or graph input provides",
                "graph output 'z' is produced by no node, initializer or graph input");
    }

    @Test
    void aDomainWithoutAnOpsetImportIsNamedOnce() {
        ModelProto custom = model(13, List.of(value("x", 1)), List.of(value("y", 1)),
                List.of(node("Gelu", List.of("x"), List.of("t")).toBuilder().setDomain("com.example").build(),
                        node("Gelu", List.of("t"), List.of("y")).toBuilder().setDomain("com.example").build()), List.of());
        assertThat(GraphCheck.problems(custom)).singleElement().asString().contains("'com.example'").contains("imports no opset");
    }

    @Test
    void everyModelOnnxModelHoldsHasItsNamesDefinedAndTheErrorSaysWhatToDo() {
        ModelProto unread = model(13, List.of(value("x", 1, 2)), List.of(value("y", 1, 2)),
                List.of(node("Add", List.of("x", "w_renamed"), List.of("y"))), List.of(floats("w", new long[] {2}, 1f, 2f)));
        OnnxModelTest.assertError(() -> OnnxModel.of(unread), io.condense.sdk.error.ErrorCode.INVALID_MODEL,
                "not a valid ONNX graph (ONNX's checker and ONNX Runtime refuse it too): node 'Add_y' (Add) reads 'w_renamed'");
        OnnxModelTest.assertError(() -> OnnxModel.of(unread), io.condense.sdk.error.ErrorCode.INVALID_MODEL, "onnx.checker.check_model");
    }
}
