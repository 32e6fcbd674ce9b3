package io.condense.sdk.model;

import static io.condense.sdk.Onnx.floats;
import static io.condense.sdk.Onnx.intAttribute;
import static io.condense.sdk.Onnx.model;
import static io.condense.sdk.Onnx.node;
import static io.condense.sdk.Onnx.value;
import static org.assertj.core.api.Assertions.assertThat;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import java.util.List;
import org.junit.jupiter.api.Test;

/** A model importing a newer opset than a runtime runs is lowered only when each of its operators means the same there. */
class OpsetVersionsTest {
    private static OnnxModel importing(long opset, List<NodeProto> nodes) {
        ModelProto proto = model(opset, List.of(value("x", 1, 4)), List.of(value("y", 1, 2)), nodes,
                List.of(floats("w", new long[] {4, 2}, 1, 2, 3, 4, 5, 6, 7, 8)));
        return OnnxModel.of(proto.toBuilder().setIrVersion(10).build());
    }

    private static long opset(OnnxModel model) {
        return model.proto().getOpsetImport(0).getVersion();
    }

    private static final List<NodeProto> MATMUL_RELU = List.of(node("MatMul", List.of("x", "w"), List.of("m")), node("Relu", List.of("m"), List.of("y")));

    @Test
    void operatorsUnchangedSinceTheRuntimesOpsetAreLoweredToIt() {
        OnnxModel lowered = OpsetVersions.lowered(importing(28, MATMUL_RELU), 26);
        assertThat(opset(lowered)).isEqualTo(26);
        assertThat(lowered.proto().getGraph()).isEqualTo(importing(28, MATMUL_RELU).proto().getGraph());
        // Reshape changed at 23, 24 and 25: the same version at 26 as at 28
        ModelProto reshape = model(28, List.of(value("x", 1, 4), value("shape", 2)), List.of(value("y", 1, 2)),
                List.of(node("MatMul", List.of("x", "w"), List.of("m")), node("Reshape", List.of("m", "shape"), List.of("y"))),
                List.of(floats("w", new long[] {4, 2}, 1, 2, 3, 4, 5, 6, 7, 8)));
        assertThat(opset(OpsetVersions.lowered(OnnxModel.of(reshape.toBuilder().setIrVersion(10).build()), 26))).isEqualTo(26);
    }

    @Test
    void anOperatorWithANewerVersionAnUnknownOneOrAnOlderImportStayAsTheyAre() {
        // Mod has a version 28 (its schema the same, its meaning maybe not): a model importing 28 means it, 26 another
        List<NodeProto> mod = List.of(node("MatMul", List.of("x", "w"), List.of("m")), node("Mod", List.of("m", "m"), List.of("y")));
        assertThat(opset(OpsetVersions.lowered(importing(28, mod), 26))).isEqualTo(28);
        assertThat(opset(OpsetVersions.lowered(importing(27, mod), 26))).isEqualTo(26); // Mod's 28 is not meant at 27
        // Cast's version 28 only added the float6 types: a model casting to float means the same at 26
        List<NodeProto> cast = List.of(node("MatMul", List.of("x", "w"), List.of("m")),
                node("Cast", List.of("m"), List.of("y"), intAttribute("to", 1)));
        assertThat(opset(OpsetVersions.lowered(importing(28, cast), 26))).isEqualTo(26);
        List<NodeProto> unknown = List.of(node("MatMul", List.of("x", "w"), List.of("m")), node("NotAnOnnxOperator", List.of("m"), List.of("y")));
        assertThat(opset(OpsetVersions.lowered(importing(28, unknown), 26))).isEqualTo(28);
        assertThat(opset(OpsetVersions.lowered(importing(21, MATMUL_RELU), 26))).isEqualTo(21);
        assertThat(opset(OpsetVersions.lowered(importing(29, MATMUL_RELU), 26))).as("newer than the table knows").isEqualTo(29);
    }

    @Test
    void subgraphsCountToo() {
        GraphProto branch = GraphProto.newBuilder().setName("branch").addNode(node("Mod", List.of("m", "m"), List.of("c")))
                .addOutput(value("c", 1, 2)).build();
        AttributeProto thenBranch = AttributeProto.newBuilder().setName("then_branch").setType(AttributeProto.AttributeType.GRAPH).setG(branch).build();
        AttributeProto elseBranch = thenBranch.toBuilder().setName("else_branch").build();
        List<NodeProto> withIf = List.of(node("MatMul", List.of("x", "w"), List.of("m")), node("If", List.of("x"), List.of("y"), thenBranch, elseBranch));
        // If itself changed at 23-25 only (its types); the Mod inside its branches has a version 28
        assertThat(opset(OpsetVersions.lowered(importing(28, withIf), 26))).isEqualTo(28);
    }
}
