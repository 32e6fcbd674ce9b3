package io.condense.server.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.OperatorSetIdProto;
import ai.onnx.proto.OnnxMl.TensorShapeProto;
import ai.onnx.proto.OnnxMl.TypeProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import io.condense.sdk.model.OnnxModel;
import java.util.List;
import org.junit.jupiter.api.Test;

class InputShapesTest {

    /** A detector-like input [batch, 3, height, width] (PaddleOCR det) feeding a Relu. */
    private static OnnxModel detector(Object... dims) {
        TensorShapeProto.Builder shape = TensorShapeProto.newBuilder();
        for (Object dim : dims) {
            shape.addDim(dim instanceof String name ? TensorShapeProto.Dimension.newBuilder().setDimParam(name)
                    : TensorShapeProto.Dimension.newBuilder().setDimValue(((Number) dim).longValue()));
        }
        ValueInfoProto x = ValueInfoProto.newBuilder().setName("x").setType(TypeProto.newBuilder()
                .setTensorType(TypeProto.Tensor.newBuilder().setElemType(1).setShape(shape))).build();
        GraphProto graph = GraphProto.newBuilder().setName("g").addInput(x)
                .addOutput(ValueInfoProto.newBuilder().setName("y"))
                .addNode(NodeProto.newBuilder().setOpType("Relu").addInput("x").addOutput("y")).build();
        return OnnxModel.of(ModelProto.newBuilder().setIrVersion(7).setGraph(graph)
                .addOpsetImport(OperatorSetIdProto.newBuilder().setVersion(13)).build());
    }

    @Test
    void fixesTheFreeDimensionsOfTheNamedInput() {
        OnnxModel model = detector("batch", 3, "height", "width");
        OnnxModel shaped = InputShapes.apply(model, InputShapes.parse(List.of("x:1,3,640,480")));
        assertThat(shaped.inputs().get(0).getType().getTensorType().getShape().getDimList())
                .extracting(TensorShapeProto.Dimension::getDimValue).containsExactly(1L, 3L, 640L, 480L);
        assertThat(InputShapes.freeDimensionsProblem(shaped)).isNull();
    }

    @Test
    void aModelWithFreeSpatialDimensionsAndNoDataIsRefusedNamingTheInputAndTheFlag() {
        assertThat(InputShapes.freeDimensionsProblem(detector("batch", 3, "height", "width")))
                .contains("model input 'x' has free dimensions [batch, 3, height, width]")
                .contains("--input-shape x:1,3,N,N");
        assertThat(InputShapes.freeDimensionsProblem(detector("batch", 1, 28, 28))).as("a free batch alone runs as 1").isNull();
    }

    @Test
    void badShapesAreRefusedWithTheReason() {
        OnnxModel model = detector("batch", 3, "height", "width");
        assertThatThrownBy(() -> InputShapes.apply(model, InputShapes.parse(List.of("image:1,3,640,640"))))
                .hasMessageContaining("'image', which is not an input of the model; its inputs are [x]");
        assertThatThrownBy(() -> InputShapes.apply(model, InputShapes.parse(List.of("x:1,3,640"))))
                .hasMessageContaining("has 3 dimensions; the input has 4");
        assertThatThrownBy(() -> InputShapes.apply(model, InputShapes.parse(List.of("x:1,4,640,640"))))
                .hasMessageContaining("sets dimension 1 to 4 but the model fixes it at 3");
        assertThatThrownBy(() -> InputShapes.parse(List.of("x:1,3,big,640"))).hasMessageContaining("'big' is not a dimension");
        assertThatThrownBy(() -> InputShapes.parse(List.of("x"))).hasMessageContaining("expected NAME:D1,D2,...");
        assertThat(InputShapes.parse(List.of("scope:input:1,2"))).containsOnlyKeys("scope:input");
        assertThat(InputShapes.parse(List.of("a:1", "b:2,3"))).hasSize(2).extractingByKey("b").isEqualTo(new long[] {2, 3});
    }
}
