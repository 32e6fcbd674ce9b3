package io.condense.plugin.quantization;

import io.condense.sdk.context.StepContext;
import io.condense.sdk.data.Dataset;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.model.LayerSelection;
import io.condense.sdk.model.ModelContents;
import io.condense.sdk.model.ModelEditor;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.model.QdqWeights;
import io.condense.sdk.model.WeightLayer;
import io.condense.sdk.quantization.CalibrationParameters;
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
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.pf4j.Extension;

/**
 * Symmetric 8-bit linear quantization in QDQ form: each selected Conv, Gemm or MatMul weight becomes an int8
 * initializer with a float scale and an int8 zero point of 0 (per output channel or per tensor), read by a
 * DequantizeLinear node whose output replaces the weight input of the layer; with activations=true static
 * activation pairs too ({@link ActivationStep}). Lower bits, blocks, GPTQ, k-means and powers of two go to
 * {@link LowBitQuantization}. ONNX Runtime fuses the pattern into integer kernels where it can.
 */
@Extension
public final class QuantizeTechnique implements Technique {
    public static final String ID = "quantize";
    static final String GRANULARITY = "granularity";
    static final String BITS = "bits";
    static final String DTYPE = "dtype";
    /** With static activations the weights use levels -64..64: scales grow by 127 / 64. */
    static final float REDUCED_RANGE_FACTOR = 127f / 64f;
    static final String ACTIVATIONS = "activations";
    static final String CALIBRATION = CalibrationParameters.CALIBRATION;
    static final String SYMMETRIC = CalibrationParameters.SYMMETRIC;
    static final String PERCENTILE = CalibrationParameters.PERCENTILE;
    static final String CALIBRATION_SAMPLES = CalibrationParameters.CALIBRATION_SAMPLES;
    static final String FOLD_BATCHNORM = "fold_batchnorm";
    static final String EMBEDDINGS = "embeddings";
    static final String EXCLUDE_OPS = "exclude_ops";
    static final String BIAS_CORRECTION = "bias_correction";
    static final String SENSITIVITY = "sensitivity";
    static final String MAX_DROP = "max_drop";
    static final String SCOPE = "scope";
    /** Calibration samples the output SQNR and the per-layer output SQNR are measured on (at most). */
    static final String SQNR_SAMPLES = "sqnr_samples";
    /** Weights (elements over all layers) from which the layers are quantized in parallel. */
    static final long PARALLEL_ELEMENTS = 1L << 22;
    /** Per-axis DequantizeLinear (the axis attribute) needs opset 13; per-tensor needs 10. */
    static final long PER_CHANNEL_OPSET = QdqWeights.PER_AXIS_OPSET;
    static final long PER_TENSOR_OPSET = QdqWeights.PER_TENSOR_OPSET;

    private static final List<ParameterSpec> CALIBRATION_SPECS = CalibrationParameters.specs("With activations=true",
            " or method=gptq");

    private static final TechniqueDescriptor DESCRIPTOR = new TechniqueDescriptor(ID, "0.1.0",
            "Weight quantization of Conv, Gemm and MatMul layers: symmetric int8 + scale through DequantizeLinear (QDQ), "
                    + "or 4/3/2-bit blocked levels (RTN or GPTQ), k-means shared values or powers of two",
            "quantization",
            List.of(
                    ParameterSpec.choiceParameter(GRANULARITY, "per_channel", List.of("per_channel", "per_tensor", "block"),
                            "per_channel: one scale per output channel (Conv axis 0, Gemm/MatMul the output-feature "
                                    + "axis), needs opset 13 and upgrades older models; per_tensor: one scale per weight; block: "
                                    + "one scale and zero point per `block` input features of each output channel (opset 21)."),
                    ParameterSpec.integerParameter(BITS, 8, Range.closed(1, 8),
                            "Bits per weight: 8 (int8, levels -127..127), or 4, 3, 2 (uint4 levels, 3 and 2 bits with the packed "
                                    + "size in the report; with activations=true uint8 activations in QDQ form, W4A8); with "
                                    + "scheme=kmeans any of 2 to 8 (2^bits shared values). 1 bit is the binarize technique."),
                    ParameterSpec.choiceParameter(DTYPE, "int", List.of("int", "fp16", "bf16"),
                            "int: integer levels of `bits` bits with scales (QDQ); fp16 or bf16: weights stored as 16-bit floats "
                                    + "read through a Cast to float (bf16 needs opset 13); not with activations=true or "
                                    + "granularity=per_tensor."),
                    ParameterSpec.booleanParameter(ACTIVATIONS, false,
                            "Also quantize the activation input of every quantized layer (static, per tensor, from the "
                                    + "calibration data: pass --calibration-data), written as QuantizeLinear -> DequantizeLinear; "
                                    + "with 8-bit weights, or uniform weights of 2 to 4 bits (uint8 activations) and pow2 up to 4 bits."),
                    CALIBRATION_SPECS.get(0), CALIBRATION_SPECS.get(1), CALIBRATION_SPECS.get(2), CALIBRATION_SPECS.get(3),
                    LowBitSettings.specs().get(0), LowBitSettings.specs().get(1), LowBitSettings.specs().get(2),
                    LowBitSettings.specs().get(3), LowBitSettings.specs().get(4), LowBitSettings.specs().get(5),
                    SelectionParameters.exclude("Layers to leave in float"),
                    SelectionParameters.minElements(0,
                            "Layers whose weight has fewer elements stay float (default 0: quantize every layer; "
                                    + "8-bit per-channel weights keep even small layers accurate)."),
                    ParameterSpec.booleanParameter(EMBEDDINGS, true,
                            "With integer weights and no static activations, also quantize embedding tables (2-D weights read "
                                    + "only by Gather, a transformer's token and position embeddings) to int8 with one scale per row."),
                    ParameterSpec.booleanParameter(FOLD_BATCHNORM, true,
                            "Fold each BatchNormalization that follows a Conv or Gemm into its weight and bias before quantizing "
                                    + "(so ONNX Runtime can fuse the layer into an integer kernel and the parameters shrink too)."),
                    ParameterSpec.stringListParameter(EXCLUDE_OPS, "",
                            "Op types to keep in float, comma-separated: Conv, ConvTranspose, Gemm, MatMul, LSTM, GRU, RNN, "
                                    + "and Gather for the embedding tables."),
                    ParameterSpec.booleanParameter(BIAS_CORRECTION, false,
                            "Add E[W x] - E[Wq x] (from the mean of each layer input on the calibration data) to the bias of every "
                                    + "quantized Conv and Gemm, so its output is right on average; needs --calibration-data."),
                    ParameterSpec.booleanParameter(SENSITIVITY, false,
                            "Find the layers to keep in float to stay within max_drop: worst layers first, each step quantizing "
                                    + "again without them and evaluating on the calibration data; needs --calibration-data."),
                    ParameterSpec.doubleParameter(MAX_DROP, 1.0, Range.closed(0, 100),
                            "With sensitivity=true: the largest acceptable drop, in points of top-1 accuracy when the calibration "
                                    + "data has labels, else in points of top-1 agreement with the float model."),
                    ParameterSpec.integerParameter(SQNR_SAMPLES, 32, Range.closed(1, 1_000_000),
                            "With calibration data: the calibration samples (the first ones, at most calibration_samples) the "
                                    + "report's output SQNR and per-layer output SQNR are measured on; calibration itself reads "
                                    + "calibration_samples."),
                    ParameterSpec.choiceParameter(SCOPE, "weights", List.of("weights", "graph", "initializers"),
                            "With dtype=fp16: weights (16-bit weights read through a Cast, the graph stays float32), graph (every "
                                    + "convertible op and its tensors in float16, Casts at the float32 inputs and outputs) or "
                                    + "initializers (every float32 initializer of at least min_elements elements, 64 unless given: "
                                    + "biases, k-means codebooks, scales, stored in float16 behind a Cast; the graph stays float32).")));

    @Override
    public TechniqueDescriptor descriptor() {
        return DESCRIPTOR;
    }

    @Override
    public List<ParameterProblem> validate(Parameters parameters) {
        return problems(parameters);
    }

    /** Every rule across quantize's parameters that they break (the dtype, bits, scope and activation combinations). */
    static List<ParameterProblem> problems(Parameters parameters) {
        boolean perChannel = parameters.getString(GRANULARITY).equals("per_channel");
        List<ParameterProblem> problems = new ArrayList<>();
        // bits other than 8, blocks, GPTQ, k-means and powers of two: LowBitQuantization
        problems.addAll(LowBitSettings.problems(parameters));
        boolean activations = parameters.getBoolean(ACTIVATIONS);
        String dtype = parameters.getString(DTYPE);
        boolean halfPrecision = !dtype.equals("int");
        if (halfPrecision && activations) {
            problems.add(new ParameterProblem(DTYPE, dtype, "16-bit float weights (dtype=" + dtype + ") keep float activations: "
                    + "drop activations=true, or use dtype=int for static int8 activations"));
        }
        if (halfPrecision && !perChannel) {
            problems.add(new ParameterProblem(GRANULARITY, parameters.getString(GRANULARITY), "dtype=" + dtype
                    + " has no scales, so no granularity: leave granularity at its default"));
        }
        List<String> excludedOps = parameters.getStringList(EXCLUDE_OPS);
        for (String op : excludedOps) {
            if (!List.of("Conv", "ConvTranspose", "Gemm", "MatMul", "LSTM", "GRU", "RNN", "Gather").contains(op)) {
                problems.add(new ParameterProblem(EXCLUDE_OPS, parameters.getString(EXCLUDE_OPS), "'" + op
                        + "' is not an op type quantize handles; use Conv, ConvTranspose, Gemm, MatMul, LSTM, GRU, RNN or Gather "
                        + "(case matters)"));
            }
        }
        boolean biasCorrection = parameters.getBoolean(BIAS_CORRECTION);
        boolean sensitivity = parameters.getBoolean(SENSITIVITY);
        if (halfPrecision && (biasCorrection || sensitivity)) {
            problems.add(new ParameterProblem(biasCorrection ? BIAS_CORRECTION : SENSITIVITY, "true", "bias correction and "
                    + "sensitivity apply to integer quantization: use dtype=int, or drop them"));
        }
        if (LowBitSettings.applies(parameters) && (biasCorrection || sensitivity)) {
            problems.add(new ParameterProblem(biasCorrection ? BIAS_CORRECTION : SENSITIVITY, "true", "bias correction and "
                    + "sensitivity are measured for 8-bit integer weights; with bits below 8, kmeans or pow2 drop them "
                    + "(method=gptq already compensates the rounding error from calibration data)"));
        }
        String scope = parameters.getString(SCOPE);
        if (!scope.equals("weights")) {
            // graph and initializers: float16 only, and no layer selection
            boolean graph = scope.equals("graph");
            if (!dtype.equals("fp16")) {
                problems.add(new ParameterProblem(SCOPE, scope, (graph ? "the whole graph is converted only to"
                        : "initializers are stored only as") + " float16: use dtype=fp16 with scope=" + scope + ", or scope=weights"));
            }
            if (parameters.isExplicit(SelectionParameters.EXCLUDE) || !excludedOps.isEmpty()) {
                problems.add(new ParameterProblem(SCOPE, scope, "scope=" + scope + " converts every " + (graph ? "convertible node"
                        : "float32 initializer of at least min_elements elements") + ", so exclude and exclude_ops do not apply: drop "
                        + "them, or use scope=weights"));
            }
        }
        return problems;
    }

    @Override
    public TechniqueResult apply(OnnxModel model, Parameters parameters, StepContext context) {
        if (!parameters.getString(DTYPE).equals("int")) {
            return compress(model, parameters, context);
        }
        TechniqueResult result = TechniqueResult.withHalfPrecisionWidened(model, widened -> compress(widened, parameters, context));
        if (!parameters.getBoolean(EMBEDDINGS) || parameters.getBoolean(ACTIVATIONS)) {
            return result;
        }
        EmbeddingTables.Outcome embeddings = EmbeddingTables.quantize(result.model(), parameters.getStringList(SelectionParameters.EXCLUDE),
                parameters.getStringList(EXCLUDE_OPS).contains("Gather"));
        if (embeddings.reports().isEmpty()) {
            return result;
        }
        Report.Builder report = Report.builder();
        result.report().values().forEach((key, value) -> {
            if (!key.equals("layers")) {
                report.put(key, value);
            }
        });
        result.report().layers().forEach(report::addLayer);
        report.put("embeddings", embeddings.reports());
        return new TechniqueResult(embeddings.model(), report.build(), result.packed());
    }

    private TechniqueResult compress(OnnxModel model, Parameters parameters, StepContext context) {
        List<ParameterProblem> problems = problems(parameters);
        if (!problems.isEmpty()) {
            throw new InvalidParametersException(problems);
        }
        boolean perChannel = parameters.getString(GRANULARITY).equals("per_channel");
        List<String> patterns = parameters.getStringList(SelectionParameters.EXCLUDE);
        int bits = parameters.getInt(BITS);
        boolean activations = parameters.getBoolean(ACTIVATIONS);
        String dtype = parameters.getString(DTYPE);
        boolean halfPrecision = !dtype.equals("int");
        List<String> excludedOps = parameters.getStringList(EXCLUDE_OPS);
        boolean biasCorrection = parameters.getBoolean(BIAS_CORRECTION);
        boolean sensitivity = parameters.getBoolean(SENSITIVITY);
        boolean graphScope = parameters.getString(SCOPE).equals("graph");
        if (graphScope) {
            return HalfPrecisionGraphStep.apply(model, context);
        }
        if (parameters.getString(SCOPE).equals("initializers")) {
            return HalfPrecisionInitializers.apply(model, parameters.isExplicit(SelectionParameters.MIN_ELEMENTS)
                    ? parameters.getLong(SelectionParameters.MIN_ELEMENTS) : HalfPrecisionInitializers.DEFAULT_MIN_ELEMENTS, context);
        }
        Dataset calibrationData = context.calibrationData().orElse(null);
        if (calibrationData == null && (biasCorrection || sensitivity)) {
            throw new CondenseException(ErrorCode.DATA_REQUIRED, "quantize with " + (biasCorrection ? "bias_correction" : "sensitivity")
                    + "=true needs calibration data (" + (biasCorrection ? "the mean of each layer input" : "to measure the drop")
                    + "): pass --calibration-data (inputs shaped like the model's input), or set it to false");
        }
        if (activations) {
            calibrationData = context.calibrationData().orElseThrow(() -> new CondenseException(ErrorCode.DATA_REQUIRED,
                    "quantize with activations=true needs calibration data to choose the activation ranges: pass --calibration-data "
                            + "(inputs shaped like the model's input), or drop activations=true for weight-only quantization"));
        }
        long minElements = parameters.getLong(SelectionParameters.MIN_ELEMENTS);

        // weights reshaped at run time (mnist-8's MatMul weight) become initializers the layers read directly
        OnnxModel reshaped = model.edit().foldConstantReshapes().build();
        int foldedReshapes = model.nodes().size() - reshaped.nodes().size();
        OnnxModel source = parameters.getBoolean(FOLD_BATCHNORM) ? reshaped.edit().foldBatchNormalization().build() : reshaped;
        int foldedBatchNorms = reshaped.nodes().size() - source.nodes().size();
        List<WeightLayer> layers = source.weightLayers();
        if (layers.isEmpty() && !(RecurrentWeights.present(source) && !halfPrecision && !LowBitSettings.applies(parameters))) {
            throw new CondenseException(ErrorCode.NOTHING_TO_COMPRESS, "nothing to quantize: the model has no Conv, Gemm or MatMul "
                    + "layer whose weight is a constant (initializer); it has " + ModelContents.describe(model));
        }
        LayerSelection.Result selection = new LayerSelection(patterns, minElements).select(source, layers);
        List<LayerSelection.Candidate> candidates = OpExclusion.filter(selection.candidates(), excludedOps);
        List<LayerSelection.Skipped> skipped = new ArrayList<>(selection.skipped());
        skipped.addAll(OpExclusion.skipped(selection.candidates(), excludedOps));
        OnnxModel reference = source;
        BiasCorrection.Outcome correction = null;
        if (biasCorrection && !halfPrecision && !candidates.isEmpty()) {
            correction = BiasCorrection.apply(source, candidates, perChannel, activations ? REDUCED_RANGE_FACTOR : 1f, calibrationData,
                    parameters.getInt(CALIBRATION_SAMPLES), context);
            source = correction.model();
            // the same layers, read again from the corrected model (their nodes now name the corrected biases)
            candidates = OpExclusion.filter(new LayerSelection(patterns, minElements).select(source, source.weightLayers()).candidates(),
                    excludedOps);
        }

        if (halfPrecision) {
            return halfPrecision(model, source, candidates, skipped, dtype, foldedReshapes, context);
        }
        if (LowBitSettings.applies(parameters)) {
            return LowBitQuantization.apply(model, source, foldedReshapes, candidates, skipped, LowBitSettings.of(parameters),
                    activations ? CalibrationParameters.settings(parameters) : null, sqnrSamples(parameters), context);
        }
        ModelEditor editor = source.edit();
        long opsetBefore = source.opsetVersion("").orElse(0L);
        long opsetNeeded = perChannel ? PER_CHANNEL_OPSET : PER_TENSOR_OPSET;
        if (!candidates.isEmpty() || RecurrentWeights.present(source)) {
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
        List<Map<String, Object>> layerReports = new ArrayList<>(count);
        List<WeightLayer> quantizedLayerList = new ArrayList<>();
        List<float[]> quantizedLayerScales = new ArrayList<>();
        List<Map<String, Object>> quantizedLayerReports = new ArrayList<>();
        // large models: the layers' levels computed in parallel first (each task its own buffer), then written in order
        List<Levels> prepared = null;
        long totalElements = 0;
        for (LayerSelection.Candidate candidate : candidates) {
            totalElements += candidate.elements();
        }
        if (count > 1 && totalElements >= PARALLEL_ELEMENTS && Runtime.getRuntime().availableProcessors() > 1) {
            context.progress(0.0, "quantizing " + count + " layers in parallel");
            List<LayerSelection.Candidate> all = candidates;
            boolean channels = perChannel;
            boolean reduced = activations;
            OnnxModel weightsSource = source;
            prepared = IntStream.range(0, count).parallel().mapToObj(index -> {
                LayerSelection.Candidate candidate = all.get(index);
                ChannelLayout layout = layout(candidate, channels, reduced);
                return candidate.elements() + 5L * layout.channels() >= 4L * candidate.elements() ? null
                        : levels(weightsSource, candidate, layout, reduced);
            }).collect(Collectors.toList());
        }
        for (int i = 0; i < count; i++) {
            context.checkCancelled();
            LayerSelection.Candidate candidate = candidates.get(i);
            context.progress((double) i / count, "layer " + (i + 1) + " of " + count + ": " + candidate.layerNames());
            long[] shape = candidate.shape();
            int axis = candidate.outputChannelAxis();
            ChannelLayout layout = layout(candidate, perChannel, activations);
            boolean channelwise = layout.perChannel();
            long floatBytes = 4L * candidate.elements();
            long quantizedBytes = candidate.elements() + 5L * layout.channels();
            if (quantizedBytes >= floatBytes) {
                skipped.add(LayerSelection.Skipped.of(candidate,
                        "int8 with " + layout.channels() + " scales would take " + quantizedBytes + " bytes, not fewer than its "
                                + floatBytes + " float bytes"));
                continue;
            }
            Levels levels = prepared != null ? prepared.get(i) : null;
            if (levels == null) {
                levels = levels(source, candidate, layout, activations);
            }
            float[] scales = levels.scales();
            byte[] quantized = levels.quantized();
            SymmetricQuantizer.Energies energies = levels.energies();
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
            for (WeightLayer weightLayer : candidate.layers()) {
                quantizedLayerList.add(weightLayer);
                quantizedLayerScales.add(scales);
                quantizedLayerReports.add(layer);
            }
        }
        // LSTM, GRU and RNN: W and R as int8 through DequantizeLinear (one scale per gate and unit), the recurrence in float
        List<java.util.regex.Pattern> excludePatterns = new ArrayList<>();
        for (String pattern : patterns) {
            excludePatterns.add(LayerSelection.compile(pattern));
        }
        RecurrentWeights.Outcome recurrent = RecurrentWeights.quantize(source, editor, perChannel, excludePatterns, excludedOps, skipped);
        {
            quantizedLayers += recurrent.weights();
            bytesBefore += recurrent.bytesBefore();
            bytesAfter += recurrent.bytesAfter();
            signalTotal += recurrent.signal();
            noiseTotal += recurrent.noise();
            for (Map<String, Object> layer : recurrent.layers()) {
                worstSqnr = Math.min(worstSqnr, (Double) layer.get("sqnr_db"));
                layerReports.add(layer);
            }
        }
        if (quantizedLayers == 0) {
            throw new CondenseException(ErrorCode.NOTHING_TO_COMPRESS, "nothing to quantize: all " + skipped.size()
                    + " weight layers were skipped (" + LayerSelection.reasons(skipped) + "); lower min_elements or change exclude");
        }
        ActivationStep activationStep = activations ? ActivationStep.apply(source, editor, quantizedLayerList,
                quantizedLayerScales, quantizedLayerReports, calibrationData, CalibrationParameters.settings(parameters), context) : null;
        OnnxModel result = activationStep != null ? activationStep.model() : editor.build();
        int sqnrSamples = calibrationData == null ? 0 : Math.min(sqnrSamples(parameters), calibrationData.size());
        if (calibrationData != null) {
            // one pass: the float model once, the quantized model exposed (per layer) and as it is (fused, output SQNR)
            double outputSqnr = LayerRanking.addOutputSqnr(reference, result, quantizedLayerList, quantizedLayerReports,
                    activations && !parameters.getBoolean(SYMMETRIC), calibrationData, sqnrSamples, activationStep != null, context);
            if (activationStep != null) {
                activationStep = activationStep.withOutputSqnr(outputSqnr, sqnrSamples);
            }
        }
        if (correction != null) {
            for (Map<String, Object> layer : layerReports) {
                layer.putAll(correction.layers().getOrDefault((String) layer.get("weight"), Map.of()));
            }
        }
        LayerRanking.sortWorstFirst(layerReports);
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
        if (activationStep != null) {
            activationStep.report(report);
        }
        if (foldedReshapes > 0) {
            report.put("folded_reshapes", foldedReshapes);
        }
        report.put("folded_batchnorms", foldedBatchNorms);
        if (!excludedOps.isEmpty()) {
            report.put("exclude_ops", excludedOps);
        }
        if (correction != null) {
            report.put("bias_correction", true).put("bias_corrected_layers", correction.corrected())
                    .put("bias_correction_samples", correction.samples());
        }
        if (calibrationData != null) {
            report.put("layer_output_sqnr_samples", sqnrSamples);
        }
        if (sensitivity) {
            List<String> ranked = new ArrayList<>();
            for (Map<String, Object> layer : layerReports) {
                ranked.add((String) layer.get("weight"));
            }
            report.put("sensitivity", Sensitivity.analyse(model, result, ranked, parameters.getDouble(MAX_DROP), calibrationData,
                    parameters.getInt(CALIBRATION_SAMPLES),
                    keep -> apply(model, Parameters.validate(DESCRIPTOR.parameters(),
                            Sensitivity.excluding(parameters, keep, SelectionParameters.EXCLUDE, SENSITIVITY)), context).model(),
                    context));
        }
        report.put("skipped", LayerSelection.skippedReport(skipped));
        for (Map<String, Object> layer : layerReports) {
            report.addLayer(layer);
        }
        return new TechniqueResult(result, report.build());
    }

    /** One weight's int8 levels, scales and quantization energies. */
    private record Levels(float[] scales, byte[] quantized, SymmetricQuantizer.Energies energies) {
    }

    private static ChannelLayout layout(LayerSelection.Candidate candidate, boolean perChannel, boolean activations) {
        long[] shape = candidate.shape();
        int axis = candidate.outputChannelAxis();
        // a batched MatMul weight ([..., K, N]) with static activations becomes QLinearMatMul in ONNX Runtime, which
        // takes per-column scales only for a matrix: such weights get one scale
        boolean batchedForIntegerKernel = activations && shape.length > 2 && candidate.opTypes().equals("MatMul");
        return perChannel && candidate.sameOutputChannelAxis() && axis < shape.length && !batchedForIntegerKernel
                ? ChannelLayout.of(shape, axis)
                : ChannelLayout.perTensor(candidate.elements());
    }

    /**
     * Quantizes the candidate's weight, streamed from its raw bytes: scales max|w| / 127 per channel (x 127 / 64 with
     * activations), int8 levels, energies. UNSUPPORTED_MODEL on a NaN or infinite weight.
     */
    private static Levels levels(OnnxModel source, LayerSelection.Candidate candidate, ChannelLayout layout, boolean activations) {
        FloatBuffer weights = source.tensor(candidate.weightName()).floats();
        float[] scales = new float[layout.channels()];
        int nonFinite = SymmetricQuantizer.scales(weights, layout, scales);
        if (nonFinite >= 0) {
            throw new CondenseException(ErrorCode.UNSUPPORTED_MODEL, "cannot quantize layer " + candidate.layerNames() + ": its weight '"
                    + candidate.weightName() + "' holds " + weights.get(nonFinite) + " at index " + nonFinite
                    + "; exclude the layer or fix the model");
        }
        if (activations) {
            // weight levels -64..64: x86 integer kernels multiply uint8 activations by int8 weights in pairs summed
            // into int16 (VPMADDUBSW), which 255 x 127 x 2 overflows and 255 x 64 x 2 = 32,640 does not; the grid of ONNX
            // Runtime's reduce_range (scale max|w| / 64), which measured 1.7 dB better on pytorch_cnn_mnist's conv1
            // output than -63..63 (README, "Measured against ONNX Runtime")
            for (int channel = 0; channel < scales.length; channel++) {
                scales[channel] *= REDUCED_RANGE_FACTOR;
            }
        }
        byte[] quantized = new byte[layout.elements()];
        SymmetricQuantizer.Energies energies = SymmetricQuantizer.quantize(weights, layout, scales, quantized);
        return new Levels(scales, quantized, energies);
    }

    /** The sqnr_samples parameter, at most calibration_samples: the samples the report's SQNR passes run. */
    static int sqnrSamples(Parameters parameters) {
        return Math.min(parameters.getInt(SQNR_SAMPLES), parameters.getInt(CALIBRATION_SAMPLES));
    }

    private static TechniqueResult halfPrecision(OnnxModel model, OnnxModel source, List<LayerSelection.Candidate> candidates,
            List<LayerSelection.Skipped> skipped, String dtype, int foldedReshapes, StepContext context) {
        if (candidates.isEmpty()) {
            throw new CondenseException(ErrorCode.NOTHING_TO_COMPRESS, "nothing to convert: all " + skipped.size()
                    + " weight layers were skipped (" + LayerSelection.reasons(skipped) + "); lower min_elements or change exclude");
        }
        HalfPrecisionWeights.Outcome outcome = HalfPrecisionWeights.apply(source, candidates,
                dtype.equals("fp16") ? DataType.FLOAT16 : DataType.BFLOAT16, context);
        OnnxModel result = outcome.model();
        context.progress(1.0, "stored " + candidates.size() + " weights as " + dtype);
        Report.Builder report = Report.builder()
                .put("technique", ID)
                .put("dtype", dtype)
                .put("layers_quantized", candidates.size())
                .put("layers_skipped", skipped.size())
                .put("sqnr_db", new SymmetricQuantizer.Energies(outcome.signal(), outcome.noise()).sqnrDb())
                .put("min_sqnr_db", outcome.worstSqnrDb())
                .put("weight_bytes_before", outcome.bytesBefore())
                .put("weight_bytes_after", outcome.bytesAfter())
                .put("model_bytes_before", model.serializedSize())
                .put("model_bytes_after", result.serializedSize())
                .put("opset_before", source.opsetVersion("").orElse(0L))
                .put("opset_after", result.opsetVersion("").orElse(0L));
        if (foldedReshapes > 0) {
            report.put("folded_reshapes", foldedReshapes);
        }
        report.put("skipped", LayerSelection.skippedReport(skipped));
        for (Map<String, Object> layer : outcome.layers()) {
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
