package io.condense.sdk.quantization;

import static java.util.Objects.requireNonNull;

import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import com.google.protobuf.ByteString;
import io.condense.sdk.context.StepContext;
import io.condense.sdk.data.Dataset;
import io.condense.sdk.data.NdArray;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.eval.Evaluator;
import io.condense.sdk.eval.InferenceSession;
import io.condense.sdk.eval.ValueSpec;
import io.condense.sdk.model.ModelEditor;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.model.QdqWeights;
import io.condense.sdk.model.WeightLayer;
import io.condense.sdk.tensor.DataType;
import io.condense.sdk.tensor.Tensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.Set;

/**
 * Static activation quantization, shared by every technique that quantizes activations (quantize, binarize and
 * ternarize with activations=8): calibrates the activation input of each quantized layer on the calibration data,
 * then puts a QuantizeLinear -> DequantizeLinear pair (per tensor, int8 or uint8) between that activation and the
 * layers that read it.
 */
public final class StaticActivations {
    private StaticActivations() {
    }

    /** How ranges are chosen: the method, int8 (symmetric) or uint8 activations, the percentile, the samples read. */
    public record Settings(CalibrationMethod method, boolean symmetric, double percentile, int samples) {
        public Settings {
            requireNonNull(method, "method is null");
        }
    }

    /** Activations quantized, samples read, and the output SQNR once measured (NaN before). */
    public record Outcome(int activations, int samples, double outputSqnrDb) {
        public Outcome withOutputSqnr(double sqnrDb) {
            return new Outcome(activations, samples, sqnrDb);
        }
    }

    /**
     * Calibrates the float {@code source} and edits {@code editor} (the same graph, weights already in QDQ form with the
     * scales {@code weightScales}, parallel to {@code layers}): a QuantizeLinear -> DequantizeLinear pair on each layer's
     * activation input and on its output (so ONNX Runtime can fuse the group into one integer kernel), and the bias as
     * int32 levels of scale activation scale x weight scale through DequantizeLinear. Adds the activation figures to each
     * layer's report entry ({@code reports} parallel to {@code layers}).
     */
    public static Outcome apply(OnnxModel source, ModelEditor editor, List<WeightLayer> layers, List<float[]> weightScales,
            List<Map<String, Object>> reports, Dataset data, Settings settings, StepContext context) {
        Map<String, List<Integer>> readers = new LinkedHashMap<>();
        Set<String> outputs = new LinkedHashSet<>();
        List<String> outputPoints = new ArrayList<>(layers.size());
        for (int i = 0; i < layers.size(); i++) {
            readers.computeIfAbsent(activationInput(source, layers.get(i)), name -> new ArrayList<>()).add(i);
            String point = outputPoint(source, layers.get(i), settings.symmetric());
            outputPoints.add(point);
            outputs.add(point);
        }
        Set<String> values = new LinkedHashSet<>(readers.keySet());
        values.addAll(outputs);
        // minmax ranges (every value with calibration=minmax; layer outputs no quantized layer reads) need no bins
        Set<String> rangeOnly = new LinkedHashSet<>();
        for (String value : values) {
            if (!readers.containsKey(value) || settings.method() == CalibrationMethod.MINMAX) {
                rangeOnly.add(value);
            }
        }
        Map<String, ActivationHistogram> histograms = ActivationCalibrator.calibrate(source, values, rangeOnly, data, settings.samples(),
                ActivationHistogram.DEFAULT_BINS, context);
        Map<String, ActivationQuantization> quantizations = new LinkedHashMap<>();
        Map<String, ActivationRange> ranges = new LinkedHashMap<>();
        for (String value : values) {
            // a layer output no quantized layer reads (the last layer's logits, say) keeps its whole seen range: clipping it
            // changes the model's result directly, and no integer kernel downstream needs a tighter scale
            CalibrationMethod method = readers.containsKey(value) ? settings.method() : CalibrationMethod.MINMAX;
            ActivationRange range = method.choose(histograms.get(value), settings.symmetric(), settings.percentile());
            ranges.put(value, range);
            quantizations.put(value, ActivationQuantization.of(range, settings.symmetric()));
        }
        // outputs: the producer writes <value>_float, read by QuantizeLinear; DequantizeLinear writes <value> for every reader
        for (int i = 0; i < layers.size(); i++) {
            WeightLayer layer = layers.get(i);
            String output = outputPoints.get(i);
            if (!outputs.remove(output)) {
                continue;
            }
            String floatName = editor.uniqueName(output + "_float");
            // the index in the edit, not in source: a caller may pass a source built from the edit (re-sorted)
            int producer = editor.producerIndex(output);
            if (producer < 0) {
                throw new IllegalStateException("no original node of the edit writes " + output + ": StaticActivations needs the "
                        + "layers and their Relu as original nodes of the editor");
            }
            NodeProto current = editor.node(producer);
            editor.replaceNode(producer, current.toBuilder().setOutput(0, floatName).build());
            insert(editor, floatName, output, true, quantizations.get(output));
            if (!output.equals(layer.node().getOutput(0))) {
                reports.get(i).put("output_after", current.getOpType());
            }
            reports.get(i).put("output_scale", quantizations.get(output).scale());
            reports.get(i).put("output_zero_point", quantizations.get(output).zeroPoint());
        }
        Set<String> outputValues = new LinkedHashSet<>(outputPoints);
        for (Map.Entry<String, List<Integer>> entry : readers.entrySet()) {
            String value = entry.getKey();
            ActivationHistogram histogram = histograms.get(value);
            ActivationRange range = ranges.get(value);
            ActivationQuantization quantization = quantizations.get(value);
            // an activation that is a quantized layer's output is already read through its DequantizeLinear
            String dequantized = outputValues.contains(value) ? value : insert(editor, value, value + "_dequantized", false, quantization);
            for (int index : entry.getValue()) {
                WeightLayer layer = layers.get(index);
                NodeProto current = editor.node(layer.nodeIndex());
                NodeProto.Builder changed = current.toBuilder();
                for (int input = 0; input < Math.min(2, current.getInputCount()); input++) {
                    if (current.getInput(input).equals(value)) {
                        changed.setInput(input, dequantized);
                    }
                }
                Map<String, Object> report = reports.get(index);
                if (quantizeBias(source, editor, layer, changed, quantization.scale(), weightScales.get(index))) {
                    report.put("bias", "int32");
                }
                editor.replaceNode(layer.nodeIndex(), changed.build());
                report.put("activation", value);
                report.put("activation_seen_min", histogram.min());
                report.put("activation_seen_max", histogram.max());
                report.put("activation_min", range.min());
                report.put("activation_max", range.max());
                report.put("activation_scale", quantization.scale());
                report.put("activation_zero_point", quantization.zeroPoint());
            }
        }
        return new Outcome(readers.size() + outputValues.size() - countShared(readers.keySet(), outputValues),
                Math.min(settings.samples(), data.size()), Double.NaN);
    }

    /**
     * Where a layer's output is quantized: after the Relu (or Clip from 0) that alone reads it (not a graph output) when the activations are
     * uint8, so that the Relu's output range (from 0) is the one quantized, ONNX Runtime drops the Relu into the zero point
     * and the next layer's input shares the same QuantizeLinear; else the layer's own output. Int8 symmetric activations
     * (zero point 0) keep the Relu in float, so there the output is quantized before it.
     */
    public static String outputPoint(OnnxModel model, WeightLayer layer, boolean symmetric) {
        String output = layer.node().getOutput(0);
        if (symmetric || isGraphOutput(model, output)) {
            return output;
        }
        List<NodeProto> consumers = model.consumers(output);
        if (consumers.size() != 1 || consumers.get(0).getOutputCount() != 1
                || !(consumers.get(0).getDomain().isEmpty() || consumers.get(0).getDomain().equals("ai.onnx"))) {
            return output;
        }
        // a Relu, or a Clip from 0 (ReLU6 in MobileNets): its output's range is the one the next layer reads, and ONNX
        // Runtime folds the activation into the quantized layer; a pair before it would quantize values it then clips
        NodeProto activation = consumers.get(0);
        boolean relu = activation.getOpType().equals("Relu");
        boolean clipFromZero = activation.getOpType().equals("Clip") && activation.getInput(0).equals(output)
                && ActivationCalibrator.nonNegative(model, activation.getOutput(0));
        return relu || clipFromZero ? activation.getOutput(0) : output;
    }

    private static boolean isGraphOutput(OnnxModel model, String value) {
        return model.outputs().stream().anyMatch(output -> output.getName().equals(value));
    }

    private static int countShared(Set<String> inputs, Set<String> outputs) {
        int shared = 0;
        for (String input : inputs) {
            if (outputs.contains(input)) {
                shared++;
            }
        }
        return shared;
    }

    /**
     * Replaces a 1-D float bias (Conv input 2, Gemm input 2) of one value per output channel by int32 levels of scale
     * activation scale x weight scale, read through DequantizeLinear; false when the layer has no such bias.
     */
    private static boolean quantizeBias(OnnxModel source, ModelEditor editor, WeightLayer layer, NodeProto.Builder node,
            float activationScale, float[] weightScales) {
        if (layer.biasName() == null || layer.biasName().isEmpty() || node.getInputCount() < 3 || !source.isInitializer(layer.biasName())) {
            return false;
        }
        Tensor bias = source.tensor(layer.biasName());
        long[] shape = bias.shape();
        if (bias.dataType() != DataType.FLOAT || shape.length != 1
                || (weightScales.length != 1 && shape[0] != weightScales.length)) {
            return false;
        }
        float[] values = bias.toFloatArray();
        boolean perAxis = weightScales.length != 1;
        float[] scales = new float[perAxis ? values.length : 1];
        byte[] levels = new byte[values.length * 4];
        ByteBuffer buffer = ByteBuffer.wrap(levels).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < values.length; i++) {
            float scale = activationScale * weightScales[perAxis ? i : 0];
            if (perAxis || i == 0) {
                scales[perAxis ? i : 0] = scale;
            }
            double level = Math.rint(values[i] / (double) scale);
            buffer.putInt(4 * i, (int) Math.max(Integer.MIN_VALUE, Math.min(Integer.MAX_VALUE, level)));
        }
        String levelsName = editor.uniqueName(layer.biasName() + "_quantized");
        String scaleName = editor.uniqueName(layer.biasName() + "_scale");
        String outputName = editor.uniqueName(layer.biasName() + "_dequantized");
        editor.putInitializer(TensorProto.newBuilder().setName(levelsName).setDataType(DataType.INT32.onnxCode())
                .addDims(values.length).setRawData(ByteString.copyFrom(levels)).build());
        editor.putInitializer(QdqWeights.scales(scaleName, scales, perAxis));
        editor.addNode(QdqWeights.dequantizeLinear(editor.uniqueName(layer.biasName() + "_DequantizeLinear"), levelsName, scaleName, null,
                outputName, perAxis ? OptionalInt.of(0) : OptionalInt.empty()));
        node.setInput(2, outputName);
        return true;
    }

    /** The layer's float activation input: the first of its first two inputs that is not its weight nor a constant. */
    public static String activationInput(OnnxModel model, WeightLayer layer) {
        NodeProto node = layer.node();
        for (int input = 0; input < Math.min(2, node.getInputCount()); input++) {
            String name = node.getInput(input);
            if (!name.equals(layer.weightName()) && !model.isInitializer(name)) {
                return name;
            }
        }
        throw new CondenseException(ErrorCode.UNSUPPORTED_MODEL, "layer " + layer.displayName() + " has no activation input to quantize: "
                + "both its inputs are constants");
    }

    /**
     * QuantizeLinear(value) -> DequantizeLinear -> {@code output}: that very name when {@code outputIsFree} (the caller
     * renamed its producer), else a unique name made from it. Returns the DequantizeLinear output.
     */
    private static String insert(ModelEditor editor, String value, String output, boolean outputIsFree, ActivationQuantization quantization) {
        String quantizedName = editor.uniqueName(value + "_quantized");
        String dequantizedName = outputIsFree ? output : editor.uniqueName(output);
        String scaleName = editor.uniqueName(value + "_scale");
        String zeroPointName = editor.uniqueName(value + "_zero_point");
        editor.putInitializer(QdqWeights.scales(scaleName, new float[] {quantization.scale()}, false));
        editor.putInitializer(TensorProto.newBuilder().setName(zeroPointName).setDataType(quantization.type().onnxCode())
                .setRawData(ByteString.copyFrom(new byte[] {(byte) quantization.zeroPoint()})).build());
        editor.addNode(NodeProto.newBuilder().setOpType("QuantizeLinear").setName(editor.uniqueName(value + "_QuantizeLinear"))
                .addInput(value).addInput(scaleName).addInput(zeroPointName).addOutput(quantizedName).build());
        editor.addNode(QdqWeights.dequantizeLinear(editor.uniqueName(value + "_DequantizeLinear"), quantizedName, scaleName, zeroPointName,
                dequantizedName, OptionalInt.empty()));
        return dequantizedName;
    }

    /** SQNR in dB of all float outputs of {@code candidate} against {@code original} over the first samples of the data. */
    public static double outputSqnrDb(OnnxModel original, OnnxModel candidate, Dataset data, int samples, StepContext context) {
        Evaluator evaluator = ActivationCalibrator.evaluator(context);
        int count = Math.min(samples, data.size());
        double signal = 0;
        double noise = 0;
        try (InferenceSession before = evaluator.open(original); InferenceSession after = evaluator.open(candidate)) {
            ValueSpec input = ActivationCalibrator.singleInput(before);
            for (int sample = 0; sample < count; sample++) {
                context.checkCancelled();
                NdArray feed = ActivationCalibrator.sampleInput(data, sample, input);
                Map<String, NdArray> expected = before.run(Map.of(input.name(), feed));
                Map<String, NdArray> actual = after.run(Map.of(input.name(), feed));
                for (Map.Entry<String, NdArray> output : expected.entrySet()) {
                    NdArray other = actual.get(output.getKey());
                    if (other == null || other.size() != output.getValue().size()) {
                        continue;
                    }
                    float[] reference = output.getValue().toFloatArray();
                    float[] quantized = other.toFloatArray();
                    for (int i = 0; i < reference.length; i++) {
                        double difference = (double) reference[i] - quantized[i];
                        signal += (double) reference[i] * reference[i];
                        noise += difference * difference;
                    }
                }
            }
        }
        return noise == 0 ? Double.POSITIVE_INFINITY : 10 * Math.log10(signal / noise);
    }
}
