package io.condense.plugin.training;

import static java.util.Objects.requireNonNull;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import io.condense.sdk.model.ModelEditor;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.tensor.DataType;
import io.condense.sdk.training.TrainingOperators;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Learned step sizes (LSQ, Esser et al. 2020) for {@code finetune(learn_scales=true)}: the scales of uniform QDQ weights
 * and of static activation QuantizeLinear/DequantizeLinear pairs train with the weights. Each trained scale is read through
 * a {@link TrainingOperators#LEARNED_STEP_SIZE} node, which scales its gradient by {@code 1 / sqrt(N x Qp)} (N: elements per
 * scale entry, per sample for activations; Qp: the positive levels), and QuantizeLinear and DequantizeLinear read the same
 * trained value, so the scale gets LSQ's gradient. Zero points stay fixed (LSQ; LSQ+'s learned offsets are not built).
 */
final class LearnedStepSizes {
    /** A static activation's scale that trains: its initializer and the values it started at. */
    record ActivationStep(String scale, float[] before) {
        ActivationStep {
            requireNonNull(scale, "scale is null");
            requireNonNull(before, "before is null");
        }
    }

    private LearnedStepSizes() {
    }

    /**
     * LSQ's Qp for levels in [lo, hi]: {@code hi - lo} for an unsigned range (lo >= 0, as LSQ's 2^b - 1), else the larger
     * magnitude of the two ends (LSQ's 2^(b-1) - 1 for a signed symmetric range).
     */
    static float positiveLevels(int lo, int hi) {
        return Math.max(1, lo >= 0 ? hi - lo : Math.max(hi, -lo));
    }

    /** Adds the node through which the fake quantization of {@code quantized} reads the trained {@code scale}; returns its output. */
    static String readThrough(ModelEditor editor, String scale, String quantized, float positiveLevels, boolean samples) {
        String output = editor.uniqueName(scale + "_learned");
        editor.addNode(NodeProto.newBuilder().setOpType(TrainingOperators.LEARNED_STEP_SIZE).setDomain(TrainingOperators.DOMAIN)
                .setName(editor.uniqueName(scale + "_LearnedStepSize")).addInput(scale).addInput(quantized).addOutput(output)
                .addAttribute(AttributeProto.newBuilder().setName(TrainingOperators.POSITIVE_LEVELS)
                        .setType(AttributeProto.AttributeType.FLOAT).setF(positiveLevels))
                .addAttribute(AttributeProto.newBuilder().setName(TrainingOperators.SAMPLES).setType(AttributeProto.AttributeType.INT)
                        .setI(samples ? 1 : 0))
                .build());
        return output;
    }

    /**
     * Every float scale initializer of a QuantizeLinear whose input is computed (an activation) and that only
     * QuantizeLinear and DequantizeLinear nodes read: each of them now reads it through {@link #readThrough} (Qp 255 for
     * uint8, 127 for int8, per sample).
     */
    static List<ActivationStep> activations(OnnxModel model, ModelEditor editor) {
        List<NodeProto> nodes = model.nodes();
        Map<String, String> quantizedByScale = new LinkedHashMap<>();
        Map<String, Float> levelsByScale = new LinkedHashMap<>();
        for (NodeProto node : nodes) {
            if (!node.getOpType().equals("QuantizeLinear") || node.getInputCount() < 2 || model.isInitializer(node.getInput(0))
                    || !model.isInitializer(node.getInput(1)) || model.tensor(node.getInput(1)).dataType() != DataType.FLOAT) {
                continue;
            }
            boolean signed = node.getInputCount() > 2 && model.isInitializer(node.getInput(2))
                    && model.tensor(node.getInput(2)).dataType() == DataType.INT8;
            quantizedByScale.putIfAbsent(node.getInput(1), node.getInput(0));
            levelsByScale.putIfAbsent(node.getInput(1), signed ? 127f : 255f);
        }
        List<ActivationStep> steps = new ArrayList<>();
        for (Map.Entry<String, String> entry : quantizedByScale.entrySet()) {
            String scale = entry.getKey();
            List<Integer> readers = model.consumerIndices(scale);
            boolean onlyQdq = readers.stream().map(nodes::get).allMatch(node -> (node.getOpType().equals("QuantizeLinear")
                    || node.getOpType().equals("DequantizeLinear")) && node.getInput(1).equals(scale) && !node.getInput(0).equals(scale));
            if (!onlyQdq) {
                continue;
            }
            String learned = readThrough(editor, scale, entry.getValue(), levelsByScale.get(scale), true);
            for (int index : readers) {
                NodeProto current = editor.node(index);
                editor.replaceNode(index, NodeProto.newBuilder(current).setInput(1, learned).build());
            }
            steps.add(new ActivationStep(scale, model.tensor(scale).toFloatArray()));
        }
        return List.copyOf(steps);
    }

    /** The report entry of a trained activation scale, read from the trained model. */
    static Map<String, Object> entry(ActivationStep step, OnnxModel trained) {
        float[] after = trained.tensor(step.scale()).toFloatArray();
        Map<String, Object> entry = new LinkedHashMap<>();
        entry.put("name", step.scale());
        entry.put("form", "activation_scale");
        entry.put("elements", (long) after.length);
        entry.put("scale_before", (double) step.before()[0]);
        entry.put("scale_after", (double) after[0]);
        entry.put("scale_trained", true);
        return entry;
    }

    /** The trained activation scale, checked positive and finite (else {@code INVALID_PARAMETER}). */
    static float[] trainedScale(ActivationStep step, OnnxModel trained) {
        float[] after = trained.tensor(step.scale()).toFloatArray();
        for (float value : after) {
            if (!Float.isFinite(value) || value <= 0) {
                throw new io.condense.sdk.error.CondenseException(io.condense.sdk.error.ErrorCode.INVALID_PARAMETER, "fine-tuning with "
                        + "learn_scales=true made the activation scale '" + step.scale() + "' " + value
                        + " (a step size must stay positive); lower the learning rate");
            }
        }
        return after;
    }
}
