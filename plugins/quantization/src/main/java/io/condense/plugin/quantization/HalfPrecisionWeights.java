package io.condense.plugin.quantization;

import static java.util.Objects.requireNonNull;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import com.google.protobuf.UnsafeByteOperations;
import io.condense.sdk.context.StepContext;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.model.LayerSelection;
import io.condense.sdk.model.ModelEditor;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.model.QdqWeights;
import io.condense.sdk.tensor.BFloat16;
import io.condense.sdk.tensor.DataType;
import io.condense.sdk.tensor.Float16;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * 16-bit float weights: each selected weight is stored as a float16 or bfloat16 initializer read through a
 * {@code Cast(to=FLOAT)} node whose output replaces the weight input of the layers; the rest of the graph stays float32.
 */
final class HalfPrecisionWeights {
    /** Cast from bfloat16 needs opset 13 (float16: any). */
    static final long BFLOAT16_CAST_OPSET = 13;

    private HalfPrecisionWeights() {
    }

    /** What was written, per layer, and the totals. */
    record Outcome(OnnxModel model, List<Map<String, Object>> layers, long bytesBefore, long bytesAfter, double signal, double noise,
            double worstSqnrDb) {
    }

    static Outcome apply(OnnxModel source, List<LayerSelection.Candidate> candidates, DataType type, StepContext context) {
        requireNonNull(type, "type is null");
        if (type != DataType.FLOAT16 && type != DataType.BFLOAT16) {
            throw new IllegalArgumentException("16-bit float weights are float16 or bfloat16, not " + type);
        }
        ModelEditor editor = source.edit();
        if (type == DataType.BFLOAT16) {
            try {
                editor.requireOpset("", BFLOAT16_CAST_OPSET);
            } catch (CondenseException e) {
                throw new CondenseException(ErrorCode.UNSUPPORTED_MODEL, "cannot store bfloat16 weights: Cast from bfloat16 needs opset "
                        + BFLOAT16_CAST_OPSET + " but the model imports opset " + source.opsetVersion("").orElse(0L)
                        + " and Condense cannot upgrade it: " + e.getMessage() + " (dtype=fp16 needs no upgrade)", e);
            }
        }
        String suffix = type == DataType.FLOAT16 ? "fp16" : "bf16";
        List<Map<String, Object>> reports = new ArrayList<>(candidates.size());
        long bytesBefore = 0;
        long bytesAfter = 0;
        double signalTotal = 0;
        double noiseTotal = 0;
        double worst = Double.POSITIVE_INFINITY;
        int count = candidates.size();
        for (int i = 0; i < count; i++) {
            context.checkCancelled();
            LayerSelection.Candidate candidate = candidates.get(i);
            context.progress((double) i / count, "layer " + (i + 1) + " of " + count + ": " + candidate.layerNames());
            float[] weights = source.tensor(candidate.weightName()).toFloatArray();
            byte[] bytes = new byte[weights.length * 2];
            double signal = 0;
            double noise = 0;
            for (int index = 0; index < weights.length; index++) {
                float weight = weights[index];
                if (!Float.isFinite(weight)) {
                    throw new CondenseException(ErrorCode.UNSUPPORTED_MODEL, "cannot convert layer " + candidate.layerNames()
                            + ": its weight '" + candidate.weightName() + "' holds " + weight + " at index " + index
                            + "; exclude the layer or fix the model");
                }
                short bits = type == DataType.FLOAT16 ? Float16.fromFloat(weight) : BFloat16.fromFloat(weight);
                float restored = type == DataType.FLOAT16 ? Float16.toFloat(bits) : BFloat16.toFloat(bits);
                bytes[2 * index] = (byte) bits;
                bytes[2 * index + 1] = (byte) (bits >>> 8);
                double difference = (double) weight - restored;
                signal += (double) weight * weight;
                noise += difference * difference;
            }
            String storedName = editor.uniqueName(candidate.weightName() + "_" + suffix);
            String castName = editor.uniqueName(candidate.weightName() + "_float");
            TensorProto.Builder stored = TensorProto.newBuilder().setName(storedName).setDataType(type.onnxCode())
                    .setRawData(UnsafeByteOperations.unsafeWrap(bytes));
            for (long dimension : candidate.shape()) {
                stored.addDims(dimension);
            }
            editor.putInitializer(stored.build());
            editor.addNode(NodeProto.newBuilder().setOpType("Cast").setName(editor.uniqueName(candidate.weightName() + "_Cast"))
                    .addInput(storedName).addOutput(castName)
                    .addAttribute(AttributeProto.newBuilder().setName("to").setType(AttributeProto.AttributeType.INT)
                            .setI(DataType.FLOAT.onnxCode()))
                    .build());
            QdqWeights.rewire(editor, candidate.layers(), candidate.weightName(), castName);

            double sqnr = noise == 0 ? Double.POSITIVE_INFINITY : 10 * Math.log10(signal / noise);
            worst = Math.min(worst, sqnr);
            signalTotal += signal;
            noiseTotal += noise;
            bytesBefore += 4L * weights.length;
            bytesAfter += 2L * weights.length;
            Map<String, Object> layer = new LinkedHashMap<>();
            layer.put("name", candidate.layerNames());
            layer.put("op", candidate.opTypes());
            layer.put("weight", candidate.weightName());
            layer.put("elements", candidate.elements());
            layer.put("dtype", suffix);
            layer.put("sqnr_db", sqnr);
            layer.put("bytes_before", 4L * weights.length);
            layer.put("bytes_after", 2L * weights.length);
            reports.add(layer);
        }
        return new Outcome(editor.build(), reports, bytesBefore, bytesAfter, signalTotal, noiseTotal, worst);
    }
}
