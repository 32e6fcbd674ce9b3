package io.condense.plugin.quantization;

import static org.assertj.core.api.Assertions.assertThat;

import ai.onnx.proto.OnnxMl.NodeProto;
import io.condense.sdk.data.Dataset;
import io.condense.sdk.data.NdArray;
import io.condense.sdk.eval.InferenceSession;
import io.condense.sdk.model.LayerSelection;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.model.WeightLayer;
import io.condense.sdk.quantization.ActivationCalibrator;
import io.condense.sdk.testkit.Evaluators;
import io.condense.sdk.testkit.SharedData;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.ejml.data.DMatrixRMaj;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The rows GPTQ's Hessian is built from, checked against ONNX Runtime: patches (or rows) times the weight give the layer's output. */
class LayerInputHessiansTest {

    @ParameterizedTest(name = "{0}")
    @CsvSource({"mnist8/model.onnx", "pytorch_cnn_mnist.onnx"})
    void inputRowsTimesTheWeightGiveTheLayerOutputs(String name) {
        OnnxModel model = OnnxModel.load(SharedData.model(name)).edit().foldConstantReshapes().build();
        Dataset digits = SharedData.mnistDigits(3, StaticActivationQuantizationTest.scaleFor(name));
        List<LayerSelection.Candidate> candidates = new LayerSelection(List.of(), 0).select(model, model.weightLayers()).candidates();
        List<String> values = new java.util.ArrayList<>();
        for (LayerSelection.Candidate candidate : candidates) {
            NodeProto node = candidate.layers().get(0).node();
            values.add(node.getInput(0));
            values.add(node.getOutput(0));
        }
        int checked = 0;
        try (InferenceSession session = Evaluators.fromServiceLoader().open(ActivationCalibrator.exposing(model, values))) {
            var input = ActivationCalibrator.singleInput(session);
            for (int sample = 0; sample < digits.size(); sample++) {
                NdArray feed = ActivationCalibrator.sampleInput(digits, sample, input);
                Map<String, NdArray> outputs = new HashMap<>(session.run(Map.of(input.name(), feed)));
                outputs.put(input.name(), feed);
                for (LayerSelection.Candidate candidate : candidates) {
                    WeightLayer layer = candidate.layers().get(0);
                    WeightMatrix matrix = WeightMatrix.of(candidate).orElseThrow();
                    LayerInputHessians.InputView view = LayerInputHessians.view(layer, matrix).value().orElseThrow();
                    NdArray activation = outputs.get(view.value());
                    DMatrixRMaj rows = view instanceof LayerInputHessians.Patches patches
                            ? LayerInputHessians.patches(activation, patches, new HashMap<>())
                            : LayerInputHessians.rows(activation, (LayerInputHessians.Rows) view, new HashMap<>());
                    double[] weights = matrix.toRows(model.tensor(candidate.weightName()).toFloatArray());
                    float[] bias = layer.node().getInputCount() > 2 ? model.tensor(layer.node().getInput(2)).toFloatArray() : null;
                    float[] expected = outputs.get(layer.node().getOutput(0)).toFloatArray();
                    boolean channelsFirst = layer.opType().equals("Conv");
                    int positions = rows.numRows;
                    assertThat(expected).hasSize(positions * matrix.rows());
                    double worst = 0;
                    for (int position = 0; position < positions; position++) {
                        for (int output = 0; output < matrix.rows(); output++) {
                            double sum = bias == null ? 0 : bias[output];
                            for (int feature = 0; feature < matrix.columns(); feature++) {
                                sum += rows.get(position, feature) * weights[output * matrix.columns() + feature];
                            }
                            float actual = expected[channelsFirst ? output * positions + position : position * matrix.rows() + output];
                            worst = Math.max(worst, Math.abs(sum - actual) / (1 + Math.abs(actual)));
                        }
                    }
                    assertThat(worst).as("%s %s: rows x weight against ONNX Runtime's output", name, layer.displayName()).isLessThan(1e-4);
                    checked++;
                }
            }
        }
        assertThat(checked).isEqualTo(3 * candidates.size());
    }
}
