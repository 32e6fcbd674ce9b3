package io.condense.plugin.pruning;

import static org.assertj.core.api.Assertions.assertThat;

import ai.onnx.proto.OnnxMl.TensorProto;
import io.condense.sdk.data.NdArray;
import io.condense.sdk.eval.InferenceSession;
import io.condense.sdk.eval.ValueSpec;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.model.WeightLayer;
import io.condense.sdk.quantization.ActivationCalibrator;
import io.condense.sdk.tensor.Tensor;
import io.condense.sdk.testkit.Evaluators;
import io.condense.sdk.testkit.SharedData;
import java.io.IOException;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.ejml.data.DMatrixRMaj;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * X^T X checked against ONNX Runtime itself: for every output channel, w^T (X^T X) w must equal the sum of squares of
 * that channel's output (bias removed) over all positions, which holds only when the patches are gathered exactly as
 * the runtime's Conv (strides, pads, dilations, groups), Gemm or MatMul reads them, in the weight matrix's order.
 */
class LayerHessianTest {

    @ParameterizedTest(name = "{0}")
    @CsvSource({"ultraface/version-RFB-320.onnx", "pytorch_cnn_mnist.onnx", "mnist8/model.onnx"})
    void outputEnergyMatchesTheRuntime(String name) throws IOException {
        OnnxModel model = OnnxModel.load(SharedData.model(name)).edit().foldConstantReshapes().build();
        NdArray input;
        if (name.startsWith("ultraface")) {
            Tensor tensor = Tensor.fromProto(TensorProto.parseFrom(Files.readAllBytes(SharedData.file("models/ultraface/test_data/img1_input_0.pb"))));
            input = NdArray.ofFloats(tensor.shape(), tensor.toFloatArray());
        } else {
            input = PruneDigits.test(name, 1).inputs();
        }
        List<WeightLayer> layers = new ArrayList<>();
        Set<String> attributeKinds = new HashSet<>();
        for (WeightLayer layer : model.weightLayers()) {
            long[] shape = model.tensor(layer.weightName()).shape();
            WeightMatrix matrix = WeightMatrix.of(layer, shape);
            String kind = layer.opType() + " group>1=" + (matrix.groups() > 1) + " " + layer.node().getAttributeList().stream()
                    .filter(a -> !a.getName().equals("group")).map(a -> a.getName() + "=" + a.getIntsList()).toList();
            if (matrix.columns() <= 600 && attributeKinds.add(kind)) {
                layers.add(layer);
            }
        }
        assertThat(layers).isNotEmpty();
        Set<String> values = new HashSet<>();
        for (WeightLayer layer : layers) {
            values.add(LayerHessian.inputName(layer));
            values.add(layer.node().getOutput(0));
        }
        try (InferenceSession session = Evaluators.fromServiceLoader().open(ActivationCalibrator.exposing(model, values))) {
            ValueSpec spec = ActivationCalibrator.singleInput(session);
            NdArray feed = NdArray.ofFloats(spec.shape()[0] < 0 ? input.shape() : spec.shape(), input.toFloatArray());
            Map<String, NdArray> outputs = new java.util.HashMap<>(session.run(Map.of(spec.name(), feed)));
            outputs.put(spec.name(), feed);
            for (WeightLayer layer : layers) {
                long[] shape = model.tensor(layer.weightName()).shape();
                WeightMatrix matrix = WeightMatrix.of(layer, shape);
                LayerHessian hessian = new LayerHessian(layer, matrix, shape);
                hessian.add(outputs.get(LayerHessian.inputName(layer)));
                float[] weights = model.tensor(layer.weightName()).toFloatArray();
                float[] bias = layer.biasName() == null ? null : model.tensor(layer.biasName()).toFloatArray();
                NdArray output = outputs.get(layer.node().getOutput(0));
                float[] y = output.toFloatArray();
                long[] outShape = output.shape();
                int channels = matrix.groups() * matrix.rows();
                boolean channelsLast = !layer.opType().equals("Conv") && !layer.node().getInput(0).equals(layer.weightName());
                for (int o : new int[] {0, channels / 2, channels - 1}) {
                    int group = o / matrix.rows();
                    int row = o % matrix.rows();
                    double expected = 0;
                    for (int i = 0; i < y.length; i++) {
                        int channel;
                        if (layer.opType().equals("Conv")) {
                            int plane = (int) (y.length / outShape[0] / outShape[1]);
                            channel = (i / plane) % channels;
                        } else {
                            channel = channelsLast ? i % channels : (int) ((i / outShape[outShape.length - 1]) % channels);
                        }
                        if (channel == o) {
                            double value = y[i] - (bias == null || bias.length != channels ? 0 : bias[o]);
                            expected += value * value;
                        }
                    }
                    DMatrixRMaj sum = hessian.sum(group);
                    double actual = 0;
                    for (int a = 0; a < matrix.columns(); a++) {
                        double wa = weights[matrix.flatIndex(group, row, a)];
                        for (int b = 0; b < matrix.columns(); b++) {
                            actual += wa * sum.get(a, b) * weights[matrix.flatIndex(group, row, b)];
                        }
                    }
                    System.out.printf("%s %s channel %d: runtime %.6g, w^T H w %.6g%n", name, layer.displayName(), o, expected, actual);
                    assertThat(actual).as("w^T H w of %s channel %d", layer.displayName(), o)
                            .isCloseTo(expected, org.assertj.core.data.Offset.offset(1e-3 * Math.max(1, expected)));
                }
            }
        }
    }
}
