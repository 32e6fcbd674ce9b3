package io.condense.plugin.quantization;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import io.condense.sdk.context.StepContext;
import io.condense.sdk.data.Dataset;
import io.condense.sdk.data.NdArray;
import io.condense.sdk.eval.InferenceSession;
import io.condense.sdk.eval.ValueSpec;
import io.condense.sdk.model.LayerSelection;
import io.condense.sdk.model.ModelEditor;
import io.condense.sdk.model.NodeAttributes;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.model.WeightLayer;
import io.condense.sdk.quantization.ActivationCalibrator;
import io.condense.sdk.quantization.StaticActivations;
import io.condense.sdk.tensor.ChannelLayout;
import io.condense.sdk.tensor.DataType;
import io.condense.sdk.tensor.Tensor;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Bias correction for weight quantization: the quantized weight {@code Wq} shifts each output channel's mean by
 * {@code E[W x] - E[Wq x] = sum_k (W - Wq)[o, k] E[x_k]}; this adds that shift to the layer's bias, so the quantized layer's
 * output is right on average. {@code E[x_k]} is the mean of the layer's float input per input channel (Conv: over batch and
 * space, Gemm: over the batch) on the calibration data, measured on the float model one sample at a time (running sums only).
 * Conv (any group) and Gemm ({@code transA=0}) layers are corrected; a layer without a bias gets one; MatMul has no bias input
 * and is left as it is (reported). The correction uses the same quantizer (levels, scales, reduced range) as the quantization
 * that follows, so the corrected bias matches the weights actually written.
 */
final class BiasCorrection {
    private BiasCorrection() {
    }

    /** The corrected model and, per weight, the mean absolute shift added to the bias relative to the bias's mean magnitude. */
    record Outcome(OnnxModel model, Map<String, Map<String, Object>> layers, int corrected, int samples) {
    }

    static Outcome apply(OnnxModel source, List<LayerSelection.Candidate> candidates, boolean perChannel, float scaleFactor, Dataset data,
            int samples, StepContext context) {
        Set<String> inputs = new LinkedHashSet<>();
        for (LayerSelection.Candidate candidate : candidates) {
            for (WeightLayer layer : candidate.layers()) {
                if (correctable(layer)) {
                    inputs.add(StaticActivations.activationInput(source, layer));
                }
            }
        }
        Map<String, double[]> means = channelMeans(source, inputs, data, samples, context);
        ModelEditor editor = source.edit();
        Map<String, Map<String, Object>> reports = new LinkedHashMap<>();
        int corrected = 0;
        for (LayerSelection.Candidate candidate : candidates) {
            for (WeightLayer layer : candidate.layers()) {
                Map<String, Object> report = new LinkedHashMap<>();
                reports.put(candidate.weightName(), report);
                if (!correctable(layer)) {
                    report.put("bias_correction", "not applied: " + layer.opType() + " has no bias input");
                    continue;
                }
                double[] mean = means.get(StaticActivations.activationInput(source, layer));
                if (mean == null) {
                    report.put("bias_correction", "not applied: the layer input's channels could not be measured");
                    continue;
                }
                if (correct(source, editor, candidate, layer, mean, perChannel, scaleFactor, report)) {
                    corrected++;
                }
            }
        }
        return new Outcome(editor.build(), reports, corrected, Math.min(samples, data.size()));
    }

    private static boolean correctable(WeightLayer layer) {
        String op = layer.opType();
        return op.equals("Conv") || (op.equals("Gemm") && NodeAttributes.getInt(layer.node(), "transA", 0) == 0);
    }

    private static boolean correct(OnnxModel source, ModelEditor editor, LayerSelection.Candidate candidate, WeightLayer layer, double[] mean,
            boolean perChannel, float scaleFactor, Map<String, Object> report) {
        long[] shape = candidate.shape();
        int axis = candidate.outputChannelAxis();
        ChannelLayout layout = perChannel && candidate.sameOutputChannelAxis() && axis < shape.length ? ChannelLayout.of(shape, axis)
                : ChannelLayout.perTensor(candidate.elements());
        float[] weights = source.tensor(candidate.weightName()).toFloatArray();
        float[] scales = new float[layout.channels()];
        if (SymmetricQuantizer.scales(weights, layout, scales) >= 0) {
            return false; // the quantization that follows reports the non-finite weight
        }
        for (int c = 0; c < scales.length; c++) {
            scales[c] *= scaleFactor;
        }
        byte[] levels = new byte[weights.length];
        SymmetricQuantizer.quantize(weights, layout, scales, levels);
        int outputs;
        double[] shift;
        if (layer.opType().equals("Conv")) {
            outputs = (int) shape[0];
            int inputsPerGroup = (int) shape[1];
            int kernel = weights.length / (outputs * inputsPerGroup);
            int group = (int) NodeAttributes.getInt(layer.node(), "group", 1);
            if (mean.length != (long) inputsPerGroup * group) {
                report.put("bias_correction", "not applied: input has " + mean.length + " channels, weight expects " + inputsPerGroup * group);
                return false;
            }
            int outputsPerGroup = outputs / group;
            shift = new double[outputs];
            for (int o = 0; o < outputs; o++) {
                int firstInput = (o / outputsPerGroup) * inputsPerGroup;
                double sum = 0;
                for (int i = 0; i < inputsPerGroup; i++) {
                    double inputMean = mean[firstInput + i];
                    int base = (o * inputsPerGroup + i) * kernel;
                    for (int k = 0; k < kernel; k++) {
                        sum += error(weights, levels, scales, layout, base + k) * inputMean;
                    }
                }
                shift[o] = sum;
            }
        } else {
            boolean transposed = NodeAttributes.getInt(layer.node(), "transB", 0) != 0;
            int features = (int) (transposed ? shape[1] : shape[0]);
            outputs = (int) (transposed ? shape[0] : shape[1]);
            if (mean.length != features) {
                report.put("bias_correction", "not applied: input has " + mean.length + " features, weight expects " + features);
                return false;
            }
            double alpha = NodeAttributes.getFloat(layer.node(), "alpha", 1f);
            shift = new double[outputs];
            for (int o = 0; o < outputs; o++) {
                double sum = 0;
                for (int k = 0; k < features; k++) {
                    int index = transposed ? o * features + k : k * outputs + o;
                    sum += error(weights, levels, scales, layout, index) * mean[k];
                }
                shift[o] = alpha * sum;
            }
        }
        NodeProto node = editor.node(layer.nodeIndex());
        boolean hasBias = node.getInputCount() >= 3 && !node.getInput(2).isEmpty();
        float[] bias;
        double beta = layer.opType().equals("Gemm") ? NodeAttributes.getFloat(layer.node(), "beta", 1f) : 1;
        if (hasBias) {
            if (!source.isInitializer(node.getInput(2))) {
                report.put("bias_correction", "not applied: the bias is not a constant");
                return false;
            }
            Tensor existing = source.tensor(node.getInput(2));
            if (existing.dataType() != DataType.FLOAT || existing.rank() != 1 || existing.elementCount() != outputs || beta == 0) {
                report.put("bias_correction", "not applied: the bias is not a float vector of one value per output channel");
                return false;
            }
            bias = existing.toFloatArray();
        } else {
            bias = new float[outputs];
            beta = 1;
        }
        double shiftMagnitude = 0;
        double biasMagnitude = 0;
        for (int o = 0; o < outputs; o++) {
            shiftMagnitude += Math.abs(shift[o]);
            biasMagnitude += Math.abs(bias[o] * beta);
            bias[o] = (float) (bias[o] + shift[o] / beta);
        }
        String name = editor.uniqueName((hasBias ? node.getInput(2) : candidate.weightName()) + "_corrected");
        editor.putInitializer(Tensor.fromFloats(name, DataType.FLOAT, new long[] {outputs}, bias).toProto());
        NodeProto.Builder changed = node.toBuilder();
        if (hasBias) {
            changed.setInput(2, name);
        } else {
            while (changed.getInputCount() < 2) {
                changed.addInput("");
            }
            changed.addInput(name);
            if (layer.opType().equals("Gemm")) {
                changed.clearAttribute();
                for (AttributeProto attribute : node.getAttributeList()) {
                    if (!attribute.getName().equals("beta")) {
                        changed.addAttribute(attribute);
                    }
                }
            }
        }
        editor.replaceNode(layer.nodeIndex(), changed.build());
        report.put("bias_correction", "applied");
        report.put("bias_shift_mean_abs", shiftMagnitude / outputs);
        report.put("bias_mean_abs", biasMagnitude / outputs);
        return true;
    }

    private static double error(float[] weights, byte[] levels, float[] scales, ChannelLayout layout, int index) {
        float scale = scales[layout.perChannel() ? layout.channelOf(index) : 0];
        return (double) weights[index] - levels[index] * scale;
    }

    /** Per input channel (axis 1; the last axis of a 2-D value) means of the values over the samples. */
    private static Map<String, double[]> channelMeans(OnnxModel model, Set<String> values, Dataset data, int samples, StepContext context) {
        Map<String, double[]> sums = new LinkedHashMap<>();
        Map<String, long[]> counts = new LinkedHashMap<>();
        int count = Math.min(samples, data.size());
        try (InferenceSession session = ActivationCalibrator.evaluator(context).open(ActivationCalibrator.exposing(model, values))) {
            ValueSpec input = ActivationCalibrator.singleInput(session);
            for (int sample = 0; sample < count; sample++) {
                context.checkCancelled();
                NdArray feed = ActivationCalibrator.sampleInput(data, sample, input);
                Map<String, NdArray> outputs = session.run(Map.of(input.name(), feed));
                for (String value : values) {
                    NdArray activation = value.equals(input.name()) ? feed : outputs.get(value);
                    if (activation == null || activation.shape().length < 2) {
                        continue;
                    }
                    long[] shape = activation.shape();
                    int channels = (int) shape[1];
                    int inner = (int) (activation.size() / (shape[0] * channels));
                    double[] sum = sums.computeIfAbsent(value, name -> new double[channels]);
                    if (sum.length != channels) {
                        continue;
                    }
                    float[] floats = activation.toFloatArray();
                    int index = 0;
                    for (int n = 0; n < shape[0]; n++) {
                        for (int c = 0; c < channels; c++) {
                            double channelSum = 0;
                            for (int k = 0; k < inner; k++) {
                                channelSum += floats[index++];
                            }
                            sum[c] += channelSum;
                        }
                    }
                    counts.computeIfAbsent(value, name -> new long[1])[0] += shape[0] * (long) inner;
                }
            }
        }
        Map<String, double[]> means = new LinkedHashMap<>();
        for (Map.Entry<String, double[]> entry : sums.entrySet()) {
            double[] mean = entry.getValue().clone();
            long n = counts.get(entry.getKey())[0];
            for (int c = 0; c < mean.length; c++) {
                mean[c] /= n;
            }
            means.put(entry.getKey(), mean);
        }
        return means;
    }
}
