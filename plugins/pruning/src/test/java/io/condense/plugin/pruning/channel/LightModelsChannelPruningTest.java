package io.condense.plugin.pruning.channel;

import static org.assertj.core.api.Assertions.assertThat;

import ai.onnx.proto.OnnxMl.TensorProto;
import io.condense.sdk.data.NdArray;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.eval.InferenceSession;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.technique.TechniqueResult;
import io.condense.sdk.tensor.Tensor;
import io.condense.sdk.testkit.Evaluators;
import io.condense.sdk.testkit.SharedData;
import java.nio.file.Files;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Channel pruning on the onnx_light topologies (their weights are all 0.02, made by ConstantOfShape nodes: only structure
 * and runnability mean something here, not accuracy): each either prunes and runs with the original output shape, or is
 * refused with the reason. Which one is expected is written down per model.
 */
class LightModelsChannelPruningTest {

    static NdArray lightInput() throws Exception {
        Tensor tensor = Tensor.fromProto(TensorProto.parseFrom(Files.readAllBytes(
                SharedData.model("onnx_light/input_0_arange_1x3x224x224.pb"))));
        return NdArray.ofFloats(tensor.shape(), tensor.toFloatArray());
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
            "light_resnet50 | pruned | Softmax",
            "light_densenet121 | pruned | graph output",
            "light_squeezenet | pruned | Softmax",
            "light_inception_v1 | pruned | LRN",
            "light_inception_v2 | pruned | Softmax",
            "light_bvlc_alexnet | pruned | grouped convolution (group=2",
            "light_vgg19 | pruned | Softmax",
            "light_zfnet512 | pruned | LRN",
            "light_shufflenet | refused | grouped convolution (group=4"})
    void prunesAndRunsWithTheOriginalOutputShapeOrRefusesWithTheReason(String name, String expected, String reason) throws Exception {
        OnnxModel original = OnnxModel.load(SharedData.model("onnx_light/" + name + ".onnx"));
        Tensor reference = Tensor.fromProto(TensorProto.parseFrom(Files.readAllBytes(SharedData.model("onnx_light/" + name + "_output_0.pb"))));
        TechniqueResult result;
        try {
            result = ChannelPruningTest.prune(original, ChannelPruningTest.channel("0.25", "min_elements", "0"));
        } catch (CondenseException refused) {
            System.out.printf("channel %s: refused: %s%n", name, refused.getMessage());
            assertThat(expected).as("%s was refused: %s", name, refused.getMessage()).isEqualTo("refused");
            assertThat(refused.code()).isEqualTo(ErrorCode.NOTHING_TO_COMPRESS);
            assertThat(refused.getMessage()).contains(reason);
            return;
        }
        assertThat(expected).as("%s was pruned", name).isEqualTo("pruned");
        Map<String, Object> report = result.report().values();
        OnnxModel pruned = OnnxModel.fromBytes(result.model().toBytes());
        try (InferenceSession session = Evaluators.fromServiceLoader().open(pruned)) {
            assertThat(session.inputs()).hasSize(1);
            assertThat(session.inputs().get(0).shape()).containsExactly(1, 3, 224, 224);
            Map<String, NdArray> outputs = session.run(Map.of(session.inputs().get(0).name(), lightInput()));
            assertThat(outputs).hasSize(1);
            NdArray output = outputs.values().iterator().next();
            assertThat(output.shape()).as("output shape of pruned %s", name).isEqualTo(reference.shape());
            for (float value : output.toFloatArray()) {
                assertThat(Float.isFinite(value)).isTrue();
            }
        }
        @SuppressWarnings("unchecked")
        List<Map<String, Object>> refused = (List<Map<String, Object>>) report.get("refused");
        assertThat(refused).as("layers of %s left alone", name).isNotEmpty()
                .allSatisfy(entry -> assertThat((String) entry.get("reason")).isNotBlank());
        assertThat(refused.toString()).contains(reason);
        assertThat((long) report.get("macs_after")).isLessThan((long) report.get("macs_before"));
        assertThat((long) report.get("parameters_after")).isLessThan((long) report.get("parameters_before"));
        System.out.printf("channel %s at 25%%: groups pruned %s, refused %s, MACs %s -> %s (%.3f), parameters %s -> %s, file %d -> %d bytes%n",
                name, report.get("groups_pruned"), report.get("groups_refused"), report.get("macs_before"), report.get("macs_after"),
                1 - (double) report.get("mac_reduction"), report.get("parameters_before"), report.get("parameters_after"),
                original.serializedSize(), pruned.serializedSize());
    }
}
