package io.condense.sdk.model;

import static io.condense.sdk.Onnx.floats;
import static io.condense.sdk.Onnx.intAttribute;
import static io.condense.sdk.Onnx.model;
import static io.condense.sdk.Onnx.node;
import static io.condense.sdk.Onnx.value;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.onnx.proto.OnnxMl.TensorProto;
import io.condense.sdk.tensor.DataType;
import io.condense.sdk.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

class LayerSelectionTest {

    @Test
    void globsMatchWholeNames() {
        assertThat(LayerSelection.compile("conv*").matcher("conv1.weight").matches()).isTrue();
        assertThat(LayerSelection.compile("conv?.weight").matcher("conv1.weight").matches()).isTrue();
        assertThat(LayerSelection.compile("conv").matcher("conv1.weight").matches()).isFalse();
        assertThat(LayerSelection.compile("fc1.weight").matcher("fc1xweight").matches()).as("dots are literal").isFalse();
        assertThat(LayerSelection.compile("regex:fc[0-9]\\..*").matcher("fc2.weight").matches()).isTrue();
    }

    @Test
    void badRegularExpressionsAreNamed() {
        assertThat(LayerSelection.problem("regex:conv(1")).contains("conv(1").contains("not a valid regular expression");
        assertThat(LayerSelection.problem("conv(1")).as("a glob has no syntax to break").isNull();
        assertThatThrownBy(() -> new LayerSelection(List.of("regex:conv(1"), 0)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void everyFloatWeightIsACandidateAndASharedWeightIsOne() {
        OnnxModel model = threeLayers();
        LayerSelection.Result result = new LayerSelection(List.of(), 0).select(model, model.weightLayers());

        assertThat(names(result.candidates())).containsExactly("fc1.weight", "shared", "fc2.weight");
        LayerSelection.Candidate shared = result.candidates().get(1);
        assertThat(shared.layerNames()).isEqualTo("gemm+matmul");
        assertThat(shared.opTypes()).isEqualTo("Gemm+MatMul");
        assertThat(shared.sameOutputChannelAxis()).as("Gemm transB=1 on axis 0, MatMul on axis 1").isFalse();
        assertThat(shared.shape()).containsExactly(4, 4);
        assertThat(LayerSelection.Skipped.of(shared, "too small to gain").toReport()).containsEntry("name", "gemm+matmul")
                .containsEntry("op", "Gemm+MatMul").containsEntry("reason", "too small to gain");
        assertThat(shared.elements()).isEqualTo(16);
        assertThat(result.skipped()).extracting(LayerSelection.Skipped::reason).containsExactly("its weight is float16, not float32");
        assertThat(result.skipped().get(0).toReport()).containsExactly(Map.entry("name", "fc3"), Map.entry("op", "MatMul"),
                Map.entry("weight", "half"), Map.entry("reason", "its weight is float16, not float32"));
    }

    @Test
    void patternsMatchNodeNamesOutputsAndWeightNamesAndSizeIsChecked() {
        OnnxModel model = threeLayers();
        LayerSelection.Result result = new LayerSelection(List.of("fc1", "regex:h[23]"), 10).select(model, model.weightLayers());

        assertThat(result.candidates()).isEmpty();
        assertThat(result.skipped()).extracting(LayerSelection.Skipped::weightName, LayerSelection.Skipped::reason).containsExactly(
                org.assertj.core.groups.Tuple.tuple("fc1.weight", "excluded by pattern 'fc1'"),
                org.assertj.core.groups.Tuple.tuple("shared", "excluded by pattern 'regex:h[23]'"),
                org.assertj.core.groups.Tuple.tuple("fc2.weight", "it has 8 weights, fewer than min_elements=10"),
                org.assertj.core.groups.Tuple.tuple("half", "its weight is float16, not float32"));
        assertThat(result.skippedReasons()).startsWith("fc1: excluded by pattern 'fc1'; gemm+matmul: excluded by pattern 'regex:h[23]'; ");
        assertThat(LayerSelection.skippedReport(result.skipped())).hasSize(4);
        assertThat(LayerSelection.skippedReport(result.skipped()).get(2)).containsEntry("name", "fc2").containsEntry("weight", "fc2.weight");

        List<LayerSelection.Candidate> byWeightName = new LayerSelection(List.of("fc?.weight"), 0).select(model, model.weightLayers()).candidates();
        assertThat(names(byWeightName)).containsExactly("shared");
    }

    @Test
    void optionalChecksComeInTheirPlace() {
        OnnxModel model = threeLayers();
        int fc2 = model.weightLayers().get(3).nodeIndex();
        LayerSelection selection = new LayerSelection(List.of(), 0).excludingNodes(Set.of(fc2), "kept by the technique")
                .requiringOutputChannelAxis();
        LayerSelection.Result result = selection.select(model, model.weightLayers());

        assertThat(names(result.candidates())).containsExactly("fc1.weight");
        assertThat(result.candidates().get(0).outputChannelAxis()).isEqualTo(1);
        assertThat(result.skipped()).extracting(LayerSelection.Skipped::reason).containsExactly(
                "its layers read it with output channels on different axes", "kept by the technique", "its weight is float16, not float32");
    }

    @Test
    void sparseWeightsAreReadUnlessDenseOnly() {
        OnnxModel dense = threeLayers();
        ModelEditor editor = dense.edit();
        editor.putSparseInitializer(dense.tensor("fc1.weight").toSparseProto());
        OnnxModel model = editor.build();

        assertThat(names(new LayerSelection(List.of(), 0).select(model, model.weightLayers()).candidates()))
                .contains("fc1.weight");
        LayerSelection.Result denseOnly = new LayerSelection(List.of(), 0).denseOnly().select(model, model.weightLayers());
        assertThat(names(denseOnly.candidates())).doesNotContain("fc1.weight");
        assertThat(denseOnly.skipped().get(0).reason()).isEqualTo("its weight is not a dense initializer");
    }

    private static List<String> names(List<LayerSelection.Candidate> candidates) {
        List<String> names = new ArrayList<>();
        for (LayerSelection.Candidate candidate : candidates) {
            names.add(candidate.weightName());
        }
        return names;
    }

    /** fc1 (MatMul 4x4), a 4x4 weight shared by a Gemm (transB=1) and a MatMul, fc2 (MatMul 4x2), fc3 (MatMul, float16). */
    static OnnxModel threeLayers() {
        float[] sixteen = new float[16];
        for (int i = 0; i < 16; i++) {
            sixteen[i] = i - 7.5f;
        }
        TensorProto half = Tensor.fromFloats("half", DataType.FLOAT16, new long[] {4, 2}, new float[8]).toProto();
        return OnnxModel.of(model(13, List.of(value("x", 1, 4)), List.of(value("y", 1, 2), value("z", 1, 2)),
                List.of(node("MatMul", List.of("x", "fc1.weight"), List.of("h1")).toBuilder().setName("fc1").build(),
                        node("Gemm", List.of("h1", "shared"), List.of("h2"), intAttribute("transB", 1)).toBuilder().setName("gemm").build(),
                        node("MatMul", List.of("h1", "shared"), List.of("h3")).toBuilder().setName("matmul").build(),
                        node("Add", List.of("h2", "h3"), List.of("h4")),
                        node("MatMul", List.of("h4", "fc2.weight"), List.of("y")).toBuilder().setName("fc2").build(),
                        node("MatMul", List.of("x", "half"), List.of("z")).toBuilder().setName("fc3").build()),
                List.of(floats("fc1.weight", new long[] {4, 4}, sixteen), floats("shared", new long[] {4, 4}, sixteen),
                        floats("fc2.weight", new long[] {4, 2}, 1, 2, 3, 4, 5, 6, 7, 8), half)));
    }
}
