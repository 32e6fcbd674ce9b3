package io.condense.plugin.binarization;

import static java.util.Objects.requireNonNull;

import io.condense.sdk.context.StepContext;
import io.condense.sdk.data.Dataset;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.eval.EvaluationRequest;
import io.condense.sdk.eval.EvaluationResult;
import io.condense.sdk.eval.Evaluator;
import io.condense.sdk.model.InitializerInfo;
import io.condense.sdk.model.LayerSelection;
import io.condense.sdk.model.ModelContents;
import io.condense.sdk.model.ModelEditor;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.model.QdqWeights;
import io.condense.sdk.model.WeightLayer;
import io.condense.sdk.technique.ParameterProblem;
import io.condense.sdk.technique.ParameterSpec;
import io.condense.sdk.technique.Parameters;
import io.condense.sdk.technique.Report;
import io.condense.sdk.technique.SelectionParameters;
import io.condense.sdk.technique.TechniqueResult;
import io.condense.sdk.tensor.ChannelLayout;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * What {@code binarize} and {@code ternarize} share: choosing the layers, approximating each weight with a
 * {@link Method}, writing it in QDQ form ({@link QdqWriter}), and the report. Per layer the report gives the
 * relative reconstruction error ||W - Wq|| / ||W|| and the packed size at the method's bits per weight plus
 * one float32 scale per channel and basis; the written model stores each level in an int8 (what ONNX Runtime
 * dequantizes), and packing the levels into bits belongs to the coding stage. When the step has evaluation
 * data and an evaluator, the report also carries the accuracy before and after, measured in ONNX Runtime.
 */
final class LowBitCompression {
    static final String KEEP_FIRST_LAST = "keep_first_last";
    /** Why a first or last weight layer is left in float. */
    static final String KEEP_FIRST_LAST_REASON =
            "it is a first or last weight layer, kept in float as the binary-network papers do (keep_first_last=true)";
    /** Per-axis DequantizeLinear (its {@code axis} attribute) needs opset 13. */
    static final long PER_CHANNEL_OPSET = QdqWeights.PER_AXIS_OPSET;
    static final String PACKING_NOTE = "packed sizes count the bits per weight plus one float32 scale per channel and basis; "
            + "the written model stores each level in an int8 for ONNX Runtime, and packing the levels into bits belongs to the coding stage";

    /** The parameters both techniques take, after their own. */
    static final List<ParameterSpec> SELECTION_PARAMETERS = List.of(
            SelectionParameters.exclude("Layers to leave in float"),
            ParameterSpec.booleanParameter(KEEP_FIRST_LAST, true,
                    "Leave the first weight layers (no weight layer upstream) and the last ones (no weight layer downstream) "
                            + "in float, as the binary-network papers do; false changes them too."),
            SelectionParameters.minElements(0,
                    "Layers whose weight has fewer elements stay float (default 0: every selected layer)."));

    /** Approximates one float weight laid out per output channel. */
    @FunctionalInterface
    interface Approximator {
        Approximation approximate(float[] weights, ChannelLayout layout);
    }

    /**
     * One way to approximate weights.
     *
     * @param name the method's name in reports ({@code bwn}, {@code abc}, {@code horq}, {@code twn})
     * @param bitsPerWeight bits one weight takes once packed (bases for binary methods, 2 for ternary)
     * @param levelSuffix what the level tensors are called after their weight
     * @param settings the method's settings, for the report
     */
    record Method(String name, int bitsPerWeight, String levelSuffix, Approximator approximator, Map<String, Object> settings) {
        Method {
            requireNonNull(name, "name is null");
            requireNonNull(levelSuffix, "levelSuffix is null");
            requireNonNull(approximator, "approximator is null");
            settings = Collections.unmodifiableMap(new LinkedHashMap<>(requireNonNull(settings, "settings is null")));
            if (bitsPerWeight < 1) {
                throw new IllegalArgumentException("bits per weight must be positive, got " + bitsPerWeight);
            }
        }
    }

    private LowBitCompression() {
    }

    /**
     * The selection settings, with every exclude pattern that does not compile reported at once: dense float32
     * weights with one output-channel axis (the first and last layers are left out in {@link #run}, which sees the model).
     */
    static LayerSelection selection(Parameters parameters, List<ParameterProblem> problems) {
        return SelectionParameters.layerSelection(parameters, problems).denseOnly().requiringOutputChannelAxis();
    }

    static TechniqueResult run(String techniqueId, Method method, LayerSelection selection, boolean keepFirstLast, OnnxModel model,
            StepContext context) {
        String verb = techniqueId.equals("ternarize") ? "ternarize" : "binarize";
        // weights reshaped at run time (mnist-8's MatMul weight) become initializers the layers read directly
        OnnxModel source = model.edit().foldConstantReshapes().build();
        int foldedReshapes = model.nodes().size() - source.nodes().size();
        List<WeightLayer> layers = source.weightLayers();
        if (layers.isEmpty()) {
            throw new CondenseException(ErrorCode.NOTHING_TO_COMPRESS, "nothing to " + verb + ": the model has no Conv, Gemm or MatMul "
                    + "layer whose weight is a constant (initializer); it has " + ModelContents.describe(model));
        }
        LayerSelection chosen = keepFirstLast
                ? selection.excludingNodes(FirstAndLastLayers.find(source.nodes(), layers), KEEP_FIRST_LAST_REASON)
                : selection;
        LayerSelection.Result selected = chosen.select(source, layers);
        List<LayerSelection.Candidate> candidates = selected.candidates();
        List<LayerSelection.Skipped> skipped = selected.skipped();
        if (candidates.isEmpty()) {
            throw nothingSelected(verb, skipped, keepFirstLast);
        }

        ModelEditor editor = source.edit();
        long opsetBefore = source.opsetVersion("").orElse(0L);
        try {
            editor.requireOpset("", PER_CHANNEL_OPSET);
        } catch (CondenseException e) {
            throw new CondenseException(ErrorCode.UNSUPPORTED_MODEL, "cannot " + verb + ": per-channel DequantizeLinear needs opset "
                    + PER_CHANNEL_OPSET + " but the model imports opset " + opsetBefore + " and Condense cannot upgrade it: " + e.getMessage(), e);
        }

        int count = candidates.size();
        long weightsChanged = 0;
        long floatBits = 0;
        long packedBits = 0;
        double signalTotal = 0;
        double noiseTotal = 0;
        double worstError = 0;
        List<Map<String, Object>> layerReports = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            context.checkCancelled();
            LayerSelection.Candidate candidate = candidates.get(i);
            context.progress((double) i / count, "layer " + (i + 1) + " of " + count + ": " + candidate.layerNames());
            long[] shape = candidate.shape();
            ChannelLayout layout = ChannelLayout.of(shape, candidate.outputChannelAxis());
            float[] weights = source.tensor(candidate.weightName()).toFloatArray();
            checkFinite(weights, candidate, verb);
            Approximation approximation = method.approximator().approximate(weights, layout);
            float[] reconstruction = new float[weights.length];
            double error = approximation.relativeError(weights, reconstruction);
            double signal = 0;
            for (float weight : weights) {
                signal += (double) weight * weight;
            }
            QdqWriter.write(editor, candidate, approximation, method.levelSuffix());

            long layerFloatBits = 32L * weights.length;
            long layerPackedBits = (long) method.bitsPerWeight() * weights.length + 32L * layout.channels() * approximation.bases();
            weightsChanged += weights.length;
            floatBits += layerFloatBits;
            packedBits += layerPackedBits;
            signalTotal += signal;
            noiseTotal += error * error * signal;
            worstError = Math.max(worstError, error);

            Map<String, Object> layer = new LinkedHashMap<>();
            layer.put("name", candidate.layerNames());
            layer.put("op", candidate.opTypes());
            layer.put("weight", candidate.weightName());
            layer.put("shape", shapeList(shape));
            layer.put("elements", weights.length);
            layer.put("axis", candidate.outputChannelAxis());
            layer.put("channels", layout.channels());
            layer.put("method", method.name());
            layer.put("bases", approximation.bases());
            layer.put("alpha_min", (double) approximation.minimumScale());
            layer.put("alpha_max", (double) approximation.maximumScale());
            layer.put("relative_error", error);
            if (method.name().equals("twn")) {
                layer.put("zero_share", approximation.zeroShare());
            }
            layer.put("bits_per_weight", method.bitsPerWeight());
            layer.put("packed_bits", layerPackedBits);
            layer.put("float_bits", layerFloatBits);
            layerReports.add(layer);
        }
        OnnxModel result = editor.build();
        context.progress(1.0, verb + "d " + count + (count == 1 ? " layer" : " layers"));

        long parameterBytes = 0;
        for (InitializerInfo info : source.initializers()) {
            parameterBytes += info.bytes();
        }
        long floatBytes = floatBits / 8;
        long packedBytes = (packedBits + 7) / 8;
        Report.Builder report = Report.builder()
                .put("technique", techniqueId)
                .put("method", method.name());
        for (Map.Entry<String, Object> setting : method.settings().entrySet()) {
            report.put(setting.getKey(), setting.getValue());
        }
        report.put("bits_per_weight", method.bitsPerWeight())
                .put("keep_first_last", keepFirstLast)
                .put("layers_changed", count)
                .put("layers_skipped", skipped.size())
                .put("weights_changed", weightsChanged)
                .put("relative_error", signalTotal == 0 ? 0.0 : Math.sqrt(noiseTotal / signalTotal))
                .put("max_relative_error", worstError)
                .put("weight_bytes_float", floatBytes)
                .put("weight_bytes_packed", packedBytes)
                .put("weight_packed_ratio", (double) floatBytes / packedBytes)
                .put("parameter_bytes_float", parameterBytes)
                .put("parameter_bytes_packed", parameterBytes - floatBytes + packedBytes)
                .put("parameter_packed_ratio", (double) parameterBytes / (parameterBytes - floatBytes + packedBytes))
                .put("model_bytes_before", model.serializedSize())
                .put("model_bytes_after", result.serializedSize())
                .put("packing", PACKING_NOTE)
                .put("opset_before", opsetBefore)
                .put("opset_after", result.opsetVersion("").orElse(0L));
        if (foldedReshapes > 0) {
            report.put("folded_reshapes", foldedReshapes);
        }
        report.put("skipped", LayerSelection.skippedReport(skipped));
        Optional<Evaluator> evaluator = context.evaluator();
        Optional<Dataset> data = context.evaluationData();
        if (evaluator.isPresent() && data.isPresent()) {
            context.checkCancelled();
            EvaluationResult evaluation = evaluator.get().compare(model, result, EvaluationRequest.of(data.get(), data.get().size()));
            report.put("evaluation", evaluation.toMap());
        }
        for (Map<String, Object> layer : layerReports) {
            report.addLayer(layer);
        }
        return new TechniqueResult(result, report.build());
    }

    private static CondenseException nothingSelected(String verb, List<LayerSelection.Skipped> skipped, boolean keepFirstLast) {
        boolean allEdges = keepFirstLast;
        StringBuilder reasons = new StringBuilder();
        StringBuilder names = new StringBuilder();
        for (LayerSelection.Skipped entry : skipped) {
            allEdges &= entry.reason().equals(KEEP_FIRST_LAST_REASON);
            reasons.append(reasons.length() == 0 ? "" : "; ").append(entry.layerNames()).append(": ").append(entry.reason());
            names.append(names.length() == 0 ? "" : ", ").append(entry.layerNames());
        }
        if (allEdges) {
            return new CondenseException(ErrorCode.NOTHING_TO_COMPRESS, "nothing to " + verb + ": the model's only weight layers ("
                    + names + ") are its first and last, which keep_first_last=true leaves in float as the binary-network papers "
                    + "do; set keep_first_last=false to " + verb + " them as well");
        }
        return new CondenseException(ErrorCode.NOTHING_TO_COMPRESS, "nothing to " + verb + ": all " + skipped.size()
                + " weight layers were skipped (" + reasons + "); change exclude, lower min_elements or set keep_first_last=false");
    }

    private static void checkFinite(float[] weights, LayerSelection.Candidate candidate, String verb) {
        for (int j = 0; j < weights.length; j++) {
            if (!Float.isFinite(weights[j])) {
                throw new CondenseException(ErrorCode.UNSUPPORTED_MODEL, "cannot " + verb + " layer " + candidate.layerNames()
                        + ": its weight '" + candidate.weightName() + "' holds " + weights[j] + " at index " + j
                        + "; exclude the layer or fix the model");
            }
        }
    }

    private static List<Long> shapeList(long[] shape) {
        List<Long> dims = new ArrayList<>(shape.length);
        for (long dim : shape) {
            dims.add(dim);
        }
        return dims;
    }
}
