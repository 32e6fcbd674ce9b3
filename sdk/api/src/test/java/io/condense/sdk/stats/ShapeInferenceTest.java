package io.condense.sdk.stats;

import static io.condense.sdk.Onnx.floats;
import static io.condense.sdk.Onnx.intAttribute;
import static io.condense.sdk.Onnx.intsAttribute;
import static io.condense.sdk.Onnx.model;
import static io.condense.sdk.Onnx.node;
import static io.condense.sdk.Onnx.value;
import static org.assertj.core.api.Assertions.assertThat;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import io.condense.sdk.SharedFiles;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.tensor.Tensor;
import java.util.List;
import org.junit.jupiter.api.Test;

class ShapeInferenceTest {

    @Test
    void propagatesThroughMnist8() {
        OnnxModel model = OnnxModel.load(SharedFiles.require("models/mnist8/model.onnx"));
        ShapeInference shapes = ShapeInference.of(model);
        assertThat(shapes.shape("Convolution28_Output_0")).hasValueSatisfying(s -> assertThat(s).containsExactly(1, 8, 28, 28));
        assertThat(shapes.shape("Pooling66_Output_0")).hasValueSatisfying(s -> assertThat(s).containsExactly(1, 8, 14, 14));
        assertThat(shapes.shape("Pooling160_Output_0")).hasValueSatisfying(s -> assertThat(s).containsExactly(1, 16, 4, 4));
        assertThat(shapes.shape("Plus214_Output_0")).hasValueSatisfying(s -> assertThat(s).containsExactly(1, 10));
        assertThat(shapes.elementType("Plus214_Output_0")).isEqualTo(1);
    }

    @Test
    void takesDynamicDimensionsAsOne() {
        OnnxModel model = OnnxModel.load(SharedFiles.require("models/pytorch_cnn_mnist.onnx"));
        ShapeInference shapes = ShapeInference.of(model);
        String output = model.outputs().get(0).getName();
        assertThat(shapes.shape(output)).hasValueSatisfying(s -> assertThat(s).containsExactly(1, 10));
    }

    @Test
    void foldsShapeComputationsOfUltraface() {
        OnnxModel model = OnnxModel.load(SharedFiles.require("models/ultraface/version-RFB-320.onnx"));
        ShapeInference shapes = ShapeInference.of(model);
        assertThat(shapes.shape("scores")).hasValueSatisfying(s -> assertThat(s).containsExactly(1, 4420, 2));
        assertThat(shapes.shape("boxes")).hasValueSatisfying(s -> assertThat(s).containsExactly(1, 4420, 4));
    }

    @Test
    void handlesPoolingPaddingAndCommonOps() {
        AttributeProto ceil = intAttribute("ceil_mode", 1);
        ModelProto proto = model(13, List.of(value("x", 1, 3, 7, 7)), List.of(value("y")),
                List.of(node("MaxPool", List.of("x"), List.of("p"), intsAttribute("kernel_shape", 2, 2), intsAttribute("strides", 2, 2), ceil),
                        node("AveragePool", List.of("x"), List.of("a"), intsAttribute("kernel_shape", 3, 3),
                                intsAttribute("pads", 1, 1, 1, 1), intsAttribute("strides", 2, 2)),
                        node("Conv", List.of("x", "w"), List.of("c"), intsAttribute("dilations", 2, 2), intAttribute("group", 1)),
                        node("GlobalAveragePool", List.of("c"), List.of("g")),
                        node("Flatten", List.of("g"), List.of("f")),
                        node("Gemm", List.of("f", "b"), List.of("m"), intAttribute("transB", 1)),
                        node("Transpose", List.of("m"), List.of("t")),
                        node("Unsqueeze", List.of("t", "axes"), List.of("u")),
                        node("Concat", List.of("u", "u"), List.of("k"), intAttribute("axis", 0)),
                        node("Reshape", List.of("k", "shape"), List.of("r")),
                        node("MatMul", List.of("r", "r2"), List.of("y"))),
                List.of(floats("w", new long[] {4, 3, 3, 3}, new float[108]), floats("b", new long[] {5, 4}, new float[20]),
                        Tensor.fromLongs("axes", new long[] {1}, new long[] {0}).toProto(),
                        Tensor.fromLongs("shape", new long[] {2}, new long[] {0, -1}).toProto(),
                        floats("r2", new long[] {5, 6}, new float[30])));
        ShapeInference shapes = ShapeInference.of(OnnxModel.of(proto));
        assertThat(shapes.shape("p").orElseThrow()).containsExactly(1, 3, 4, 4);
        assertThat(shapes.shape("a").orElseThrow()).containsExactly(1, 3, 4, 4);
        assertThat(shapes.shape("c").orElseThrow()).containsExactly(1, 4, 3, 3);
        assertThat(shapes.shape("g").orElseThrow()).containsExactly(1, 4, 1, 1);
        assertThat(shapes.shape("f").orElseThrow()).containsExactly(1, 4);
        assertThat(shapes.shape("m").orElseThrow()).containsExactly(1, 5);
        assertThat(shapes.shape("t").orElseThrow()).containsExactly(5, 1);
        assertThat(shapes.shape("u").orElseThrow()).containsExactly(1, 5, 1);
        assertThat(shapes.shape("k").orElseThrow()).containsExactly(2, 5, 1);
        assertThat(shapes.shape("r").orElseThrow()).containsExactly(2, 5);
        assertThat(shapes.shape("y").orElseThrow()).containsExactly(2, 6);
        assertThat(shapes.shape("unknown")).isEmpty();
    }

    @Test
    void followsRangePositionsAndCausalMasksOfAttention() {
        // positions = Range(0, Shape(x)[1], 1); mask = Trilu(ones [16, 16]) sliced to [sequence, sequence]; scores = Q x K^T
        ModelProto proto = model(17, List.of(value("x", 2, 5, 8)), List.of(value("y")),
                List.of(node("Shape", List.of("x"), List.of("shape")),
                        node("Gather", List.of("shape", "one"), List.of("sequence"), intAttribute("axis", 0)),
                        node("Range", List.of("zero", "sequence", "one"), List.of("positions")),
                        node("Gather", List.of("table", "positions"), List.of("embedded")),
                        node("Trilu", List.of("ones"), List.of("lower"), intAttribute("upper", 0)),
                        node("Unsqueeze", List.of("sequence", "axes"), List.of("end")),
                        node("Concat", List.of("end", "end"), List.of("ends"), intAttribute("axis", 0)),
                        node("Slice", List.of("lower", "starts", "ends"), List.of("mask")),
                        node("Transpose", List.of("x"), List.of("keys"), intsAttribute("perm", 0, 2, 1)),
                        node("MatMul", List.of("x", "keys"), List.of("scores")),
                        node("Add", List.of("scores", "mask"), List.of("masked")),
                        node("Softmax", List.of("masked"), List.of("y"), intAttribute("axis", -1))),
                List.of(Tensor.fromLongs("zero", new long[0], new long[] {0}).toProto(),
                        Tensor.fromLongs("one", new long[0], new long[] {1}).toProto(),
                        Tensor.fromLongs("axes", new long[] {1}, new long[] {0}).toProto(),
                        Tensor.fromLongs("starts", new long[] {2}, new long[] {0, 0}).toProto(),
                        floats("ones", new long[] {16, 16}, new float[256]), floats("table", new long[] {16, 8}, new float[128])));
        ShapeInference shapes = ShapeInference.of(OnnxModel.of(proto));
        assertThat(shapes.shape("positions").orElseThrow()).containsExactly(5);
        assertThat(shapes.shape("embedded").orElseThrow()).containsExactly(5, 8);
        assertThat(shapes.shape("mask").orElseThrow()).containsExactly(5, 5);
        assertThat(shapes.shape("scores").orElseThrow()).containsExactly(2, 5, 5);
        assertThat(shapes.shape("y").orElseThrow()).containsExactly(2, 5, 5);
        assertThat(ModelStats.of(OnnxModel.of(proto)).macs()).as("Q x K^T: 2 x 5 x 5 x 8").isEqualTo(400);
    }
}
