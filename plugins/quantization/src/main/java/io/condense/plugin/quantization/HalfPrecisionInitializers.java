package io.condense.plugin.quantization;

import ai.onnx.proto.OnnxMl.ValueInfoProto;
import io.condense.sdk.context.StepContext;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.model.InitializerInfo;
import io.condense.sdk.model.ModelEditor;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.technique.Report;
import io.condense.sdk.technique.TechniqueResult;
import io.condense.sdk.tensor.DataType;
import io.condense.sdk.tensor.Float16;
import io.condense.sdk.tensor.Tensor;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * {@code quantize(dtype=fp16, scope=initializers)}: every float32 initializer of at least {@code min_elements} elements
 * (the biases, k-means codebooks, scales and weights earlier steps left in float32) is stored as float16 under
 * {@code <name>_fp16}, and a {@code Cast(to=FLOAT)} gives back its name, so every node reads a float32 tensor as before
 * and the graph computes in float32. What it is for: the last step before {@code encode} in a pipeline whose weights are
 * already codes (Deep Compression's k-means indices), where the float32 tensors left are a large share of a small file
 * (LeNet-5 at 89% sparsity: 1,030 of 8,134 bytes are float biases). A tensor smaller than {@code min_elements} stays
 * float32: its Cast node and names take about 45 to 90 bytes of the ONNX file, as much as halving 24 to 48 floats saves.
 * In a packed file ({@code encode}) the graph is compressed and a Cast costs a few bytes, so a pipeline that ends with
 * encode can convert 16-element codebooks too ({@code min_elements=16}).
 */
final class HalfPrecisionInitializers {
    /**
     * Fewest elements converted when {@code min_elements} is not given: from 64 floats the 128 bytes saved exceed what
     * the Cast node adds to a plain ONNX file (measured: six Casts over 536 bytes of float32 tensors made
     * pytorch_cnn_mnist's k-means model 264 bytes larger).
     */
    static final long DEFAULT_MIN_ELEMENTS = 64;

    private HalfPrecisionInitializers() {
    }

    static TechniqueResult apply(OnnxModel model, long minElements, StepContext context) {
        context.progress(0.0, "storing float32 initializers as float16");
        Set<String> graphInputs = new HashSet<>();
        for (ValueInfoProto input : model.graph().getInputList()) {
            graphInputs.add(input.getName());
        }
        ModelEditor editor = model.edit();
        List<Map<String, Object>> tensors = new ArrayList<>();
        List<String> kept = new ArrayList<>();
        long bytesBefore = 0;
        long bytesAfter = 0;
        for (InitializerInfo info : model.initializers()) {
            if (info.dataType() != DataType.FLOAT || info.sparse()) {
                continue;
            }
            if (info.elements() < minElements || graphInputs.contains(info.name())) {
                kept.add(info.name() + (graphInputs.contains(info.name()) ? " (also a graph input, which a caller may override)"
                        : " (" + info.elements() + " elements)"));
                continue;
            }
            context.checkCancelled();
            float[] values = model.tensor(info.name()).toFloatArray();
            double signal = 0;
            double noise = 0;
            float largest = 0;
            boolean representable = true;
            for (float value : values) {
                if (!Float.isFinite(value)) {
                    continue;
                }
                float restored = Float16.toFloat(Float16.fromFloat(value));
                if (!Float.isFinite(restored)) {
                    representable = false;
                    break;
                }
                double difference = (double) value - restored;
                signal += (double) value * value;
                noise += difference * difference;
                largest = Math.max(largest, Math.abs(value - restored));
            }
            if (!representable) {
                kept.add(info.name() + " (values beyond float16's range, 65,504)");
                continue;
            }
            String stored = editor.uniqueName(info.name() + "_fp16");
            editor.removeInitializer(info.name());
            editor.putInitializer(Tensor.fromFloats(stored, DataType.FLOAT16, info.shape(), values).toProto());
            editor.addNode(HalfPrecisionGraph.castNode(editor, stored, info.name(), DataType.FLOAT));
            Map<String, Object> tensor = new LinkedHashMap<>();
            tensor.put("name", info.name());
            tensor.put("elements", info.elements());
            tensor.put("dtype", "fp16");
            tensor.put("sqnr_db", noise == 0 ? Double.POSITIVE_INFINITY : 10 * Math.log10(signal / noise));
            tensor.put("max_abs_error", (double) largest);
            tensors.add(tensor);
            bytesBefore += 4 * info.elements();
            bytesAfter += 2 * info.elements();
        }
        if (tensors.isEmpty()) {
            throw new CondenseException(ErrorCode.NOTHING_TO_COMPRESS, "nothing to store as float16: the model has no float32 "
                    + "initializer of at least " + minElements + " elements that is not also a graph input"
                    + (kept.isEmpty() ? "" : " (kept: " + String.join(", ", kept) + ")") + "; lower min_elements to convert smaller ones");
        }
        OnnxModel result = editor.build();
        context.progress(1.0, "stored " + tensors.size() + " initializers as float16");
        Report.Builder report = Report.builder()
                .put("technique", QuantizeTechnique.ID)
                .put("dtype", "fp16")
                .put("scope", "initializers")
                .put("min_elements", minElements)
                .put("initializers_converted", tensors.size())
                .put("initializers_kept", kept)
                .put("initializer_bytes_before", bytesBefore)
                .put("initializer_bytes_after", bytesAfter)
                .put("model_bytes_before", model.serializedSize())
                .put("model_bytes_after", result.serializedSize());
        tensors.forEach(report::addLayer);
        return new TechniqueResult(result, report.build());
    }
}
