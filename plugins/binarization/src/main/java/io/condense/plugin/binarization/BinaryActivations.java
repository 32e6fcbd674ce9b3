package io.condense.plugin.binarization;

import ai.onnx.proto.OnnxMl.NodeProto;
import io.condense.sdk.context.StepContext;
import io.condense.sdk.data.Dataset;
import io.condense.sdk.data.NdArray;
import io.condense.sdk.eval.InferenceSession;
import io.condense.sdk.eval.ValueSpec;
import io.condense.sdk.model.ModelEditor;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.model.WeightLayer;
import io.condense.sdk.quantization.ActivationCalibrator;
import io.condense.sdk.stats.ModelStats;
import io.condense.sdk.tensor.DataType;
import io.condense.sdk.tensor.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Binary activations ({@code activations=1}, XNOR-Net's W1-A1): every changed layer reads {@code Sign(x - b)} of its input
 * x, with one threshold b per input channel (ReActNet's RSign), so both operands of its multiply-accumulates are 1 bit and a
 * binary kernel could run them as XNOR and popcount. A value read by several changed layers gets one Sign.
 *
 * <p>Each threshold starts at its channel's mean over the first {@value #SAMPLES} samples of the step's data (calibration
 * data, else training data), measured in ONNX Runtime on the model as it will run (binary weights in place, the thresholds of
 * the layers upstream already applied), and trains in {@code finetune} like any float parameter. Why not plain Sign: after a
 * ReLU (LeNet-5's inner layers read ReLU then MaxPool outputs, 66 to 81% zeros) {@code Sign(x)} only says "positive or not";
 * a threshold at the channel's mean splits where the values are (Fashion-MNIST LeNet-5 W1-A1, plugins/binarization/README.md).
 * The activations carry no scale (XNOR-Net's per-position K is left out, as BNN, Bi-Real Net and ReActNet do; the weights
 * keep their per-channel alpha). ONNX Runtime runs the model as is, with float kernels on the +-1 values.
 */
final class BinaryActivations {
    /** Samples the thresholds are measured on (the first of the data). */
    static final int SAMPLES = 512;
    /** Samples per ONNX Runtime run while measuring (a model with a fixed batch runs one at a time). */
    private static final int BATCH = 32;

    /** What {@link #apply} changed: the Sign nodes added, the layer nodes whose both inputs are now binary, the thresholds. */
    record Outcome(int signs, Set<String> binaryLayers, Map<String, float[]> thresholds) {
    }

    private BinaryActivations() {
    }

    /**
     * Puts {@code Sign(x - b)} before the activation input (input 0) of every layer in {@code layers}, in graph order, each
     * threshold b measured on {@code data} with the thresholds upstream of it in place.
     */
    static Outcome apply(ModelEditor editor, List<WeightLayer> layers, Dataset data, StepContext context) {
        Map<String, String> signOf = new LinkedHashMap<>();
        Map<String, float[]> thresholds = new LinkedHashMap<>();
        Set<String> binaryLayers = new LinkedHashSet<>();
        Set<Integer> rewired = new LinkedHashSet<>();
        List<WeightLayer> ordered = new ArrayList<>(layers);
        ordered.sort(Comparator.comparingInt(WeightLayer::nodeIndex));
        for (WeightLayer layer : ordered) {
            if (!rewired.add(layer.nodeIndex())) {
                continue;
            }
            context.checkCancelled();
            NodeProto node = editor.node(layer.nodeIndex());
            String input = node.getInput(0);
            boolean convolution = layer.opType().equals("Conv");
            String sign = signOf.computeIfAbsent(input, value -> {
                ChannelMeans means = channelMeans(editor.build(), value, convolution, data, context);
                thresholds.put(value, means.means());
                String thresholdName = editor.uniqueName(value + "_threshold");
                editor.putInitializer(Tensor.fromFloats(thresholdName, DataType.FLOAT, means.thresholdShape(convolution), means.means())
                        .toProto());
                String shifted = editor.uniqueName(value + "_shifted");
                editor.addNode(NodeProto.newBuilder().setOpType("Sub").setName(editor.uniqueName(value + "_Sub")).addInput(value)
                        .addInput(thresholdName).addOutput(shifted).build());
                String output = editor.uniqueName(value + "_sign");
                editor.addNode(NodeProto.newBuilder().setOpType("Sign").setName(editor.uniqueName(value + "_Sign")).addInput(shifted)
                        .addOutput(output).build());
                return output;
            });
            editor.replaceNode(layer.nodeIndex(), NodeProto.newBuilder(node).setInput(0, sign).build());
            binaryLayers.add(layer.displayName());
        }
        return new Outcome(signOf.size(), binaryLayers, thresholds);
    }

    /** The per-channel means of a value, and the rank of the value they were measured on. */
    record ChannelMeans(float[] means, int rank) {
        /** [C, 1, ..., 1] for a convolution's N, C, ... input (broadcast from the right), [C] for a Gemm/MatMul's last axis. */
        long[] thresholdShape(boolean convolution) {
            if (!convolution || rank <= 2) {
                return new long[] {means.length};
            }
            long[] shape = new long[rank - 1];
            Arrays.fill(shape, 1);
            shape[0] = means.length;
            return shape;
        }
    }

    /**
     * The mean of {@code value} per channel (axis 1 of a convolution's input, the last axis of a Gemm/MatMul's) over the first
     * {@value #SAMPLES} samples of the data, run in ONNX Runtime.
     */
    static ChannelMeans channelMeans(OnnxModel model, String value, boolean convolution, Dataset data, StepContext context) {
        OnnxModel exposed = ActivationCalibrator.exposing(model, List.of(value));
        int count = Math.min(SAMPLES, data.size());
        double[] sums = null;
        long perChannel = 0;
        int rank = 0;
        try (InferenceSession session = ActivationCalibrator.evaluator(context).open(exposed)) {
            ValueSpec input = ActivationCalibrator.singleInput(session);
            int batch = ActivationCalibrator.batchable(input) ? BATCH : 1;
            for (int start = 0; start < count; start += batch) {
                context.checkCancelled();
                int size = Math.min(batch, count - start);
                NdArray output = session.run(Map.of(input.name(), ActivationCalibrator.batchInput(data, start, size, input))).get(value);
                long[] shape = output.shape();
                rank = shape.length;
                int axis = convolution ? Math.min(1, shape.length - 1) : shape.length - 1;
                int channels = (int) shape[axis];
                long inner = 1;
                for (int i = axis + 1; i < shape.length; i++) {
                    inner *= shape[i];
                }
                if (sums == null) {
                    sums = new double[channels];
                }
                float[] values = output.toFloatArray();
                for (int i = 0; i < values.length; i++) {
                    sums[(int) ((i / inner) % channels)] += values[i];
                }
                perChannel += values.length / channels;
            }
        }
        float[] means = new float[sums.length];
        for (int c = 0; c < means.length; c++) {
            means[c] = (float) (sums[c] / perChannel);
        }
        return new ChannelMeans(means, rank);
    }

    /**
     * The report's MAC figures of the written model: {@code macs} (every Conv, Gemm and MatMul), {@code binary_macs}
     * (those of layers with binary weights and binary inputs: XNOR/popcount operations) and their share.
     */
    static Map<String, Object> macs(OnnxModel written, Outcome outcome) {
        ModelStats stats = ModelStats.of(written);
        long binary = 0;
        for (Map.Entry<String, Long> entry : stats.macsByNode().entrySet()) {
            if (outcome.binaryLayers().contains(entry.getKey())) {
                binary += entry.getValue();
            }
        }
        Map<String, Object> report = new LinkedHashMap<>();
        report.put("sign_nodes", outcome.signs());
        report.put("binary_layers", List.copyOf(outcome.binaryLayers()));
        report.put("activation_thresholds", "per input channel, Sign(x - b) with b the channel's mean over the first "
                + SAMPLES + " samples of the data (trained by finetune)");
        Map<String, Object> thresholds = new LinkedHashMap<>();
        outcome.thresholds().forEach((value, means) -> {
            double min = Double.POSITIVE_INFINITY;
            double max = Double.NEGATIVE_INFINITY;
            for (float mean : means) {
                min = Math.min(min, mean);
                max = Math.max(max, mean);
            }
            thresholds.put(value, Map.of("channels", means.length, "min", min, "max", max));
        });
        report.put("thresholds", thresholds);
        report.put("macs", stats.macs());
        report.put("binary_macs", binary);
        report.put("binary_mac_share", stats.macs() == 0 ? 0.0 : (double) binary / stats.macs());
        return report;
    }
}
