package io.condense.sdk.model;

import static io.condense.sdk.Onnx.floats;
import static io.condense.sdk.Onnx.model;
import static io.condense.sdk.Onnx.node;
import static io.condense.sdk.Onnx.value;
import static org.assertj.core.api.Assertions.assertThat;

import ai.onnx.proto.OnnxMl.NodeProto;
import java.util.List;
import org.junit.jupiter.api.Test;

class ModelContentsTest {

    @Test
    void countsOperatorsWithTheirDomainsAndInitializers() {
        NodeProto scaler = node("Scaler", List.of("x"), List.of("s")).toBuilder().setDomain("ai.onnx.ml").build();
        OnnxModel model = OnnxModel.of(model(13, List.of(value("x", 1, 2)), List.of(value("z", 1, 2)),
                List.of(scaler, node("Relu", List.of("s"), List.of("r")), node("Add", List.of("r", "b"), List.of("a")),
                        node("Relu", List.of("a"), List.of("z")).toBuilder().setDomain("ai.onnx").build()),
                List.of(floats("b", new long[] {2}, 1f, 2f)))
                .toBuilder().addOpsetImport(ai.onnx.proto.OnnxMl.OperatorSetIdProto.newBuilder().setDomain("ai.onnx.ml").setVersion(1))
                .build());
        assertThat(ModelContents.describe(model)).isEqualTo("4 nodes: Scaler (domain ai.onnx.ml), Relu x2, Add; 1 initializer");
    }

    @Test
    void singleNodeNoInitializers() {
        OnnxModel model = OnnxModel.of(model(13, List.of(value("x", 1, 2)), List.of(value("y", 1, 2)),
                List.of(node("Relu", List.of("x"), List.of("y"))), List.of()));
        assertThat(ModelContents.describe(model)).isEqualTo("1 node: Relu; 0 initializers");
    }
}
