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
import io.condense.sdk.quantization.CalibrationMethod;
import io.condense.sdk.quantization.CalibrationParameters;
import io.condense.sdk.quantization.StaticActivations;
import io.condense.sdk.technique.ParameterProblem;
import io.condense.sdk.technique.ParameterSpec;
import io.condense.sdk.technique.Parameters;
import io.condense.sdk.technique.Range;
import io.condense.sdk.technique.Report;
import io.condense.sdk.technique.SelectionParameters;
import io.condense.sdk.technique.TechniqueResult;
import io.condense.sdk.tensor.ChannelLayout;
import io.condense.sdk.training.TrainingOperators;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * What {@code binarize} and {@code ternarize} share: choosing the layers, approximating each weight with a
 * {@link Method}, writing it in QDQ form ({@link QdqWriter}), and the report. Per layer the report gives the
 * relative reconstruction error ||W - Wq|| / ||W|| and the packed size at the method's bits per weight plus
 * one float32 scale per channel and basis; the written model stores each level in an int8 (what ONNX Runtime
 * dequantizes), and packing the levels into bits belongs to the coding stage. When the step has evaluation
 * data and an evaluator, the report also carries the accuracy before and after, measured in ONNX Runtime.
 *
 * <p>With {@code activations=8} (W1-A8 / W2-A8) the activations of every changed layer are quantized too, by the
 * SDK's {@link StaticActivations} as the quantization family does: calibrated on the model with its binary or ternary
 * weights already in place (the activations that model really produces), a QuantizeLinear -> DequantizeLinear pair on
 * each changed layer's activation input and output, and an int32 bias.
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

    static final String LATENTS_NOTE = "each layer's float weight is kept in the file, read by no node (initializer <positive levels>"
            + TrainingOperators.TTQ_LATENT_SUFFIX + "), for a following finetune to start its latent weights from, as TTQ trains; "
            + "finetune removes them, and ttq_latents=false leaves them out (model_bytes_after counts them)";

    static final String BINARY_LATENTS_NOTE = "each binarized layer's float weight is kept in the file, read by no node (initializer "
            + "<binary levels>" + TrainingOperators.BINARY_LATENT_SUFFIX + "), for a following finetune to start its latent weights "
            + "from (W1-A1); finetune removes them (model_bytes_after counts them)";

    /** The parameters both techniques take, after their own. */
    static final List<ParameterSpec> SELECTION_PARAMETERS = List.of(
            SelectionParameters.exclude("Layers to leave in float"),
            ParameterSpec.booleanParameter(KEEP_FIRST_LAST, true,
                    "Leave the first weight layers (no weight layer upstream) and the last ones (no weight layer downstream) "
                            + "in float, as the binary-network papers do; false changes them too."),
            SelectionParameters.minElements(0,
                    "Layers whose weight has fewer elements stay float (default 0: every selected layer)."));

    static final String ACTIVATIONS = "activations";
    static final String FLOAT_ACTIVATIONS = "float";
    static final String INT8_ACTIVATIONS = "8";
    static final String BINARY_ACTIVATIONS = "1";
    /** The options that only mean something with activations=8. */
    static final List<String> CALIBRATION_OPTIONS = CalibrationParameters.NAMES;

    /**
     * The activation parameters both techniques take: {@code activations} and the calibration options of the
     * quantization family's {@code quantize}, with its names, defaults and meanings.
     */
    static final List<ParameterSpec> ACTIVATION_PARAMETERS = Stream.concat(Stream.of(
            ParameterSpec.choiceParameter(ACTIVATIONS, FLOAT_ACTIVATIONS, List.of(FLOAT_ACTIVATIONS, INT8_ACTIVATIONS, BINARY_ACTIVATIONS),
                    "float: activations stay float (weight-only); 8: static 8-bit activations too (W1-A8 / W2-A8), calibrated on "
                            + "the calibration data (pass --calibration-data): QuantizeLinear -> DequantizeLinear on the activation "
                            + "input and output of every changed layer, and an int32 bias; 1: binary activations (XNOR-Net W1-A1): "
                            + "every changed layer reads Sign(x - b) of its input x, one threshold b per input channel starting at the "
                            + "channel's mean over the calibration data (else the training data), to be trained by finetune (clipped "
                            + "straight-through); binarize keeps the float weights for finetune's latents.")),
            CalibrationParameters.specs("With activations=8", "").stream()).toList();

    /** What {@code activations=8} needs: how to calibrate, and the data to calibrate on. */
    record ActivationSettings(StaticActivations.Settings settings, Dataset data) {
        ActivationSettings {
            requireNonNull(settings, "settings is null");
            requireNonNull(data, "data is null");
        }
    }

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
     * @param layerScales one scale per basis for the whole layer (TTQ), written per tensor: the approximator gives every
     *        channel the same value
     * @param carriesLatents each layer's float weight stays in the file, unread, for a following {@code finetune} to start
     *        its latent weights from ({@link QdqWriter}; TTQ, and {@code bwn} with binary activations)
     */
    record Method(String name, int bitsPerWeight, String levelSuffix, Approximator approximator, Map<String, Object> settings,
            boolean layerScales, boolean carriesLatents) {
        /** A method with a scale per output channel and basis. */
        Method(String name, int bitsPerWeight, String levelSuffix, Approximator approximator, Map<String, Object> settings) {
            this(name, bitsPerWeight, levelSuffix, approximator, settings, false, false);
        }

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

    /**
     * Adds a problem for every calibration option given without {@code activations=8} (where it would be ignored);
     * call before {@link #selection}, which throws the problems collected.
     */
    static void checkActivationParameters(Parameters parameters, List<ParameterProblem> problems) {
        if (parameters.getString(ACTIVATIONS).equals(INT8_ACTIVATIONS)) {
            return;
        }
        for (String option : CALIBRATION_OPTIONS) {
            if (parameters.isExplicit(option)) {
                problems.add(new ParameterProblem(option, parameters.getString(option),
                        "applies to activations=8 only, and activations is " + parameters.getString(ACTIVATIONS)
                                + ": set activations=8 to quantize the activations, or drop " + option));
            }
        }
    }

    /**
     * The data binary activations' thresholds are measured on when {@code activations=1} (the calibration data, else the
     * training data), empty for other activations; DATA_REQUIRED naming both options when the step has neither.
     */
    static Optional<Dataset> binaryActivationData(String techniqueId, Parameters parameters, StepContext context) {
        if (!parameters.getString(ACTIVATIONS).equals(BINARY_ACTIVATIONS)) {
            return Optional.empty();
        }
        Optional<Dataset> data = context.calibrationData().or(context::trainingData);
        if (data.isEmpty()) {
            throw new CondenseException(ErrorCode.DATA_REQUIRED, techniqueId + " with activations=1 puts Sign(x - b) before every "
                    + "binarized layer, each threshold b starting at its channel's mean over the first " + BinaryActivations.SAMPLES
                    + " samples: pass --calibration-data or --train-data (inputs shaped like the model's input)");
        }
        return data;
    }

    /**
     * The activation settings when {@code activations=8}, empty for float activations; without calibration data in
     * the step, {@code DATA_REQUIRED}. Parameters must have passed {@link #checkActivationParameters} first.
     */
    static Optional<ActivationSettings> activationSettings(String techniqueId, Parameters parameters, StepContext context) {
        if (!parameters.getString(ACTIVATIONS).equals(INT8_ACTIVATIONS)) {
            return Optional.empty();
        }
        Dataset data = context.calibrationData().orElseThrow(() -> new CondenseException(ErrorCode.DATA_REQUIRED,
                techniqueId + " with activations=8 needs calibration data to choose the int8 activation ranges: pass "
                        + "--calibration-data (inputs shaped like the model's input), or drop activations=8 to keep float activations"));
        return Optional.of(new ActivationSettings(CalibrationParameters.settings(parameters), data));
    }

    static TechniqueResult run(String techniqueId, Method method, LayerSelection selection, boolean keepFirstLast,
            Optional<ActivationSettings> activations, OnnxModel model, StepContext context) {
        return run(techniqueId, method, selection, keepFirstLast, activations, Optional.empty(), model, context);
    }

    /**
     * @param binaryActivations {@code activations=1}: the data the thresholds of {@code Sign(x - b)} before every changed layer
     *        are measured on ({@link BinaryActivations}); empty for other activations
     */
    static TechniqueResult run(String techniqueId, Method method, LayerSelection selection, boolean keepFirstLast,
            Optional<ActivationSettings> activations, Optional<Dataset> binaryActivations, OnnxModel model, StepContext context) {
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
        long latentBytes = 0;
        long floatBits = 0;
        long packedBits = 0;
        double signalTotal = 0;
        double noiseTotal = 0;
        double worstError = 0;
        List<Map<String, Object>> layerReports = new ArrayList<>(count);
        // per layer reading a changed weight (several may share one): what StaticActivations needs
        List<WeightLayer> changedLayers = new ArrayList<>();
        List<float[]> biasWeightScales = new ArrayList<>();
        List<Map<String, Object>> changedLayerReports = new ArrayList<>();
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
            QdqWriter.write(editor, candidate, approximation, method.levelSuffix(), method.layerScales(),
                    method.carriesLatents() ? Optional.of(weights) : Optional.empty());
            latentBytes += method.carriesLatents() ? 4L * weights.length : 0;

            long layerFloatBits = 32L * weights.length;
            long layerPackedBits = (long) method.bitsPerWeight() * weights.length
                    + 32L * (method.layerScales() ? 1 : layout.channels()) * approximation.bases();
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
            if (method.levelSuffix().equals("ternary")) {
                layer.put("zero_share", approximation.zeroShare());
            }
            layer.put("bits_per_weight", method.bitsPerWeight());
            layer.put("packed_bits", layerPackedBits);
            layer.put("float_bits", layerFloatBits);
            layerReports.add(layer);
            float[] biasScales = biasWeightScales(approximation);
            for (WeightLayer weightLayer : candidate.layers()) {
                changedLayers.add(weightLayer);
                biasWeightScales.add(biasScales);
                changedLayerReports.add(layer);
            }
        }
        StaticActivations.Outcome activationOutcome = null;
        BinaryActivations.Outcome binaryOutcome = null;
        double activationSqnr = Double.NaN;
        OnnxModel result;
        if (activations.isPresent()) {
            ActivationSettings settings = activations.get();
            // calibrate what will run: the model with its low-bit weights in place, not the float one
            OnnxModel weightsOnly = editor.build();
            activationOutcome = StaticActivations.apply(weightsOnly, editor, changedLayers, biasWeightScales, changedLayerReports,
                    settings.data(), settings.settings(), context);
            result = editor.build();
            int samples = settings.settings().samples();
            activationOutcome = activationOutcome.withOutputSqnr(StaticActivations.outputSqnrDb(model, result, settings.data(), samples,
                    context));
            activationSqnr = StaticActivations.outputSqnrDb(weightsOnly, result, settings.data(), samples, context);
        } else if (binaryActivations.isPresent()) {
            binaryOutcome = BinaryActivations.apply(editor, changedLayers, binaryActivations.get(), context);
            result = editor.build();
        } else {
            result = editor.build();
        }
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
                .put("packing", PACKING_NOTE);
        if (method.carriesLatents()) {
            report.put("latent_bytes", latentBytes).put("latents", method.levelSuffix().equals("binary") ? BINARY_LATENTS_NOTE : LATENTS_NOTE);
        }
        report
                .put("opset_before", opsetBefore)
                .put("opset_after", result.opsetVersion("").orElse(0L))
                .put("activations", activations.isPresent() ? INT8_ACTIVATIONS : binaryActivations.isPresent() ? BINARY_ACTIVATIONS : FLOAT_ACTIVATIONS);
        if (binaryOutcome != null) {
            BinaryActivations.macs(result, binaryOutcome).forEach(report::put);
        }
        if (activationOutcome != null) {
            StaticActivations.Settings settings = activations.get().settings();
            report.put("calibration", settings.method().parameterValue())
                    .put("symmetric", settings.symmetric())
                    .put("activation_type", settings.symmetric() ? "int8" : "uint8");
            if (settings.method() == CalibrationMethod.PERCENTILE) {
                report.put("percentile", settings.percentile());
            }
            report.put("calibration_samples", activationOutcome.samples())
                    .put("activations_quantized", activationOutcome.activations())
                    .put("output_sqnr_db", activationOutcome.outputSqnrDb())
                    .put("activation_sqnr_db", activationSqnr)
                    .put("fusable_layers", fusableLayers(changedLayerReports));
        }
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

    /**
     * Per channel, the weight scale the int32 bias levels are counted in (bias scale = activation scale x this): the
     * written scale for one basis, which is what an integer kernel multiplies by; the largest magnitude the channel
     * can hold (the sum of its bases' scales) for several bases, whose Sum keeps the layer a float kernel. A channel
     * with nothing (all-zero weights) uses 1, so the bias keeps its value instead of dividing by zero.
     */
    private static float[] biasWeightScales(Approximation approximation) {
        int channels = approximation.layout().channels();
        float[] result = new float[channels];
        for (float[] basis : approximation.scales()) {
            for (int c = 0; c < channels; c++) {
                result[c] += basis[c];
            }
        }
        for (int c = 0; c < channels; c++) {
            if (!(result[c] > 0f)) {
                result[c] = 1f;
            }
        }
        return result;
    }

    /**
     * Layers with one basis: their weight comes straight from one DequantizeLinear, between activation QDQ pairs, the
     * pattern ONNX Runtime fuses into QLinearConv / QLinearMatMul / QGemm; a Sum of bases keeps a layer a float kernel.
     */
    private static int fusableLayers(List<Map<String, Object>> changedLayerReports) {
        int count = 0;
        for (Map<String, Object> layer : changedLayerReports) {
            if (((Number) layer.get("bases")).intValue() == 1) {
                count++;
            }
        }
        return count;
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
