package io.condense.plugin.quantization;

import io.condense.sdk.context.StepContext;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.model.LayerSelection;
import io.condense.sdk.model.ModelContents;
import io.condense.sdk.model.ModelEditor;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.model.QdqWeights;
import io.condense.sdk.model.WeightLayer;
import io.condense.sdk.technique.InvalidParametersException;
import io.condense.sdk.technique.ParameterProblem;
import io.condense.sdk.technique.ParameterSpec;
import io.condense.sdk.technique.Parameters;
import io.condense.sdk.technique.Range;
import io.condense.sdk.technique.Report;
import io.condense.sdk.technique.SelectionParameters;
import io.condense.sdk.technique.Technique;
import io.condense.sdk.technique.TechniqueDescriptor;
import io.condense.sdk.technique.TechniqueResult;
import io.condense.sdk.tensor.ChannelLayout;
import io.condense.sdk.tensor.DataType;
import io.condense.sdk.tensor.Tensor;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import org.pf4j.Extension;

/**
 * Weight-only symmetric 8-bit linear quantization in QDQ form: each selected Conv, Gemm or MatMul weight
 * becomes an int8 initializer with a float scale and an int8 zero point of 0 (per output channel or per
 * tensor), read by a DequantizeLinear node whose output replaces the weight input of the layer. Biases and
 * activations stay float. ONNX Runtime fuses the pattern into integer kernels where it can.
 */
@Extension
public final class QuantizeTechnique implements Technique {
    public static final String ID = "quantize";
    static final String GRANULARITY = "granularity";
    static final String BITS = "bits";
    /** Per-axis DequantizeLinear (the axis attribute) needs opset 13; per-tensor needs 10. */
    static final long PER_CHANNEL_OPSET = QdqWeights.PER_AXIS_OPSET;
    static final long PER_TENSOR_OPSET = QdqWeights.PER_TENSOR_OPSET;

    private static final TechniqueDescriptor DESCRIPTOR = new TechniqueDescriptor(ID, "0.1.0",
            "Symmetric 8-bit weight quantization of Conv, Gemm and MatMul layers, written as int8 + scale through DequantizeLinear (QDQ)",
            "quantization",
            List.of(
                    ParameterSpec.choiceParameter(GRANULARITY, "per_channel", List.of("per_channel", "per_tensor"),
                            "per_channel: one scale per output channel (Conv axis 0, Gemm/MatMul the output-feature "
                                    + "axis), needs opset 13 and upgrades older models; per_tensor: one scale per weight."),
                    ParameterSpec.integerParameter(BITS, 8, Range.closed(8, 8),
                            "Bits per weight. Only 8 for now (int8, levels -127..127)."),
                    SelectionParameters.exclude("Layers to leave in float"),
                    SelectionParameters.minElements(0,
                            "Layers whose weight has fewer elements stay float (default 0: quantize every layer; "
                                    + "8-bit per-channel weights keep even small layers accurate).")));

    @Override
    public TechniqueDescriptor descriptor() {
        return DESCRIPTOR;
    }

    @Override
    public TechniqueResult apply(OnnxModel model, Parameters parameters, StepContext context) {
        boolean perChannel = parameters.getString(GRANULARITY).equals("per_channel");
        List<ParameterProblem> problems = new ArrayList<>();
        List<String> patterns = SelectionParameters.excludePatterns(parameters, problems);
        int bits = parameters.getInt(BITS);
        if (bits != 8) {
            problems.add(new ParameterProblem(BITS, Integer.toString(bits), "only 8-bit quantization is supported"));
        }
        if (!problems.isEmpty()) {
            throw new InvalidParametersException(problems);
        }
        long minElements = parameters.getLong(SelectionParameters.MIN_ELEMENTS);

        // weights reshaped at run time (mnist-8's MatMul weight) become initializers the layers read directly
        OnnxModel source = model.edit().foldConstantReshapes().build();
        int foldedReshapes = model.nodes().size() - source.nodes().size();
        List<WeightLayer> layers = source.weightLayers();
        if (layers.isEmpty()) {
            throw new CondenseException(ErrorCode.NOTHING_TO_COMPRESS, "nothing to quantize: the model has no Conv, Gemm or MatMul "
                    + "layer whose weight is a constant (initializer); it has " + ModelContents.describe(model));
        }
        LayerSelection.Result selection = new LayerSelection(patterns, minElements).select(source, layers);
        List<LayerSelection.Candidate> candidates = selection.candidates();
        List<LayerSelection.Skipped> skipped = new ArrayList<>(selection.skipped());

        ModelEditor editor = source.edit();
        long opsetBefore = source.opsetVersion("").orElse(0L);
        long opsetNeeded = perChannel ? PER_CHANNEL_OPSET : PER_TENSOR_OPSET;
        if (!candidates.isEmpty()) {
            try {
                editor.requireOpset("", opsetNeeded);
            } catch (CondenseException e) {
                throw new CondenseException(ErrorCode.UNSUPPORTED_MODEL, "cannot quantize: " + (perChannel ? "per-channel" : "per-tensor")
                        + " DequantizeLinear needs opset " + opsetNeeded + " but the model imports opset " + opsetBefore
                        + " and Condense cannot upgrade it: " + e.getMessage() + (perChannel ? " (per_tensor needs only opset 10)" : ""), e);
            }
        }

        int count = candidates.size();
        long bytesBefore = 0;
        long bytesAfter = 0;
        double signalTotal = 0;
        double noiseTotal = 0;
        double worstSqnr = Double.POSITIVE_INFINITY;
        int quantizedLayers = 0;
        float[] buffer = null;
        List<Map<String, Object>> layerReports = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            context.checkCancelled();
            LayerSelection.Candidate candidate = candidates.get(i);
            context.progress((double) i / count, "layer " + (i + 1) + " of " + count + ": " + candidate.layerNames());
            long[] shape = candidate.shape();
            int axis = candidate.outputChannelAxis();
            ChannelLayout layout = perChannel && candidate.sameOutputChannelAxis() && axis < shape.length
                    ? ChannelLayout.of(shape, axis)
                    : ChannelLayout.perTensor(candidate.elements());
            boolean channelwise = layout.perChannel();
            long floatBytes = 4L * candidate.elements();
            long quantizedBytes = candidate.elements() + 5L * layout.channels();
            if (quantizedBytes >= floatBytes) {
                skipped.add(LayerSelection.Skipped.of(candidate,
                        "int8 with " + layout.channels() + " scales would take " + quantizedBytes + " bytes, not fewer than its "
                                + floatBytes + " float bytes"));
                continue;
            }
            Tensor tensor = source.tensor(candidate.weightName());
            // layers of one size share a work buffer: no fresh (zeroed) array per layer
            float[] weights = buffer != null && buffer.length == candidate.elements() ? buffer : new float[candidate.elements()];
            tensor.toFloatArray(weights);
            buffer = weights;
            float[] scales = new float[layout.channels()];
            int nonFinite = SymmetricQuantizer.scales(weights, layout, scales);
            if (nonFinite >= 0) {
                throw new CondenseException(ErrorCode.UNSUPPORTED_MODEL, "cannot quantize layer " + candidate.layerNames() + ": its weight '"
                        + candidate.weightName() + "' holds " + weights[nonFinite] + " at index " + nonFinite
                        + "; exclude the layer or fix the model");
            }
            byte[] quantized = new byte[weights.length];
            SymmetricQuantizer.Energies energies = SymmetricQuantizer.quantize(weights, layout, scales, quantized);
            QdqWeights.write(editor, candidate.weightName(), candidate.layers(), "quantized", DataType.INT8, shape, quantized, scales,
                    channelwise ? OptionalInt.of(axis) : OptionalInt.empty());

            quantizedLayers++;
            bytesBefore += floatBytes;
            bytesAfter += quantizedBytes;
            signalTotal += energies.signal();
            noiseTotal += energies.noise();
            double sqnr = energies.sqnrDb();
            worstSqnr = Math.min(worstSqnr, sqnr);
            Map<String, Object> layer = new LinkedHashMap<>();
            layer.put("name", candidate.layerNames());
            layer.put("op", candidate.opTypes());
            layer.put("weight", candidate.weightName());
            layer.put("shape", shapeList(shape));
            layer.put("elements", candidate.elements());
            layer.put("granularity", channelwise ? "per_channel" : "per_tensor");
            if (channelwise) {
                layer.put("axis", axis);
            }
            layer.put("scales", layout.channels());
            layer.put("sqnr_db", sqnr);
            layer.put("bytes_before", floatBytes);
            layer.put("bytes_after", quantizedBytes);
            layerReports.add(layer);
        }
        if (quantizedLayers == 0) {
            throw new CondenseException(ErrorCode.NOTHING_TO_COMPRESS, "nothing to quantize: all " + skipped.size()
                    + " weight layers were skipped (" + LayerSelection.reasons(skipped) + "); lower min_elements or change exclude");
        }
        OnnxModel result = editor.build();
        context.progress(1.0, "quantized " + quantizedLayers + " layers");

        Report.Builder report = Report.builder()
                .put("technique", ID)
                .put("granularity", perChannel ? "per_channel" : "per_tensor")
                .put("bits", bits)
                .put("layers_quantized", quantizedLayers)
                .put("layers_skipped", skipped.size())
                .put("sqnr_db", new SymmetricQuantizer.Energies(signalTotal, noiseTotal).sqnrDb())
                .put("min_sqnr_db", worstSqnr)
                .put("weight_bytes_before", bytesBefore)
                .put("weight_bytes_after", bytesAfter)
                .put("model_bytes_before", model.serializedSize())
                .put("model_bytes_after", result.serializedSize())
                .put("opset_before", opsetBefore)
                .put("opset_after", result.opsetVersion("").orElse(0L));
        if (foldedReshapes > 0) {
            report.put("folded_reshapes", foldedReshapes);
        }
        report.put("skipped", LayerSelection.skippedReport(skipped));
        for (Map<String, Object> layer : layerReports) {
            report.addLayer(layer);
        }
        return new TechniqueResult(result, report.build());
    }

    private static List<Long> shapeList(long[] shape) {
        List<Long> dims = new ArrayList<>(shape.length);
        for (long dim : shape) {
            dims.add(dim);
        }
        return dims;
    }
}
