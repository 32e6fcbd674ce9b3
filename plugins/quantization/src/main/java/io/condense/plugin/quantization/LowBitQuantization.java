package io.condense.plugin.quantization;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import io.condense.sdk.context.StepContext;
import io.condense.sdk.data.Dataset;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.model.LayerSelection;
import io.condense.sdk.model.ModelEditor;
import io.condense.sdk.model.NodeAttributes;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.model.QdqWeights;
import io.condense.sdk.model.WeightLayer;
import io.condense.sdk.quantization.IncrementalPowerOfTwo;
import io.condense.sdk.quantization.PowerOfTwo;
import io.condense.sdk.quantization.StaticActivations;
import io.condense.sdk.stats.ShapeInference;
import io.condense.sdk.technique.Report;
import io.condense.sdk.technique.TechniqueResult;
import io.condense.sdk.tensor.ChannelLayout;
import io.condense.sdk.tensor.DataType;
import io.condense.sdk.tensor.Tensor;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.stream.Collectors;
import org.ejml.data.DMatrixRMaj;

/**
 * Weight-only quantization below 8 bits, blocked scales, GPTQ, k-means weight sharing and power-of-two weights, each
 * written in a form ONNX Runtime runs:
 *
 * <ul>
 *   <li>uniform: the weight as a 2-D [output channels, input features] matrix (stored [in, out] for MatMul and Gemm
 *   without transB) of unsigned levels, uint4 at 2, 3 and 4 bits (opset 21) and uint8 at 8, with float scales and zero points of
 *   the levels' type per block of input features (DequantizeLinear's {@code block_size}, opset 21), per output channel
 *   or per tensor; a Reshape gives Conv weights their shape back;</li>
 *   <li>kmeans: a float codebook of at most 2^bits values and one index per weight (uint4 up to 4 bits, else uint8),
 *   read by Cast to int32 and Gather(codebook, indices);</li>
 *   <li>pow2: int8 levels 0, ±1, ±2, ±4... times a power-of-two scale per channel through DequantizeLinear (up to 4
 *   bits; 8-bit powers of two do not fit int8 levels and are written as float values).</li>
 * </ul>
 * The report gives the bytes the file holds for the weights and the bytes they would take packed at {@code bits}. With
 * static activations (uniform levels, or pow2 up to 4 bits) the weights written as above are followed by the activation
 * QuantizeLinear -> DequantizeLinear pairs of the 8-bit path ({@link ActivationStep}): W4A8 in QDQ form.
 */
final class LowBitQuantization {
    /** DequantizeLinear's block_size attribute and 4-bit types. */
    static final long BLOCKED_OPSET = QdqWeights.FOUR_BIT_OPSET;
    private static final int TO_INT32 = DataType.INT32.onnxCode();

    private LowBitQuantization() {
    }

    /**
     * @param activations the static activation settings, or null for weight-only quantization
     * @param sqnrSamples with activations: the calibration samples the output and per-layer SQNR are measured on (at most)
     */
    static TechniqueResult apply(OnnxModel model, OnnxModel source, int foldedReshapes, List<LayerSelection.Candidate> selected,
            List<LayerSelection.Skipped> skipped, LowBitSettings settings, StaticActivations.Settings activations, int sqnrSamples,
            StepContext context) {
        List<LayerSelection.Candidate> candidates = new ArrayList<>();
        Map<String, WeightMatrix> matrices = new LinkedHashMap<>();
        for (LayerSelection.Candidate candidate : selected) {
            Optional<WeightMatrix> matrix = WeightMatrix.of(candidate);
            if (matrix.isEmpty() && settings.scheme().equals("uniform")) {
                skipped.add(LayerSelection.Skipped.of(candidate, "its layers do not read the weight with the output channels on axis 0 "
                        + "(or 1 of a rank-2 weight), so it has no [output, input] matrix to quantize"));
                continue;
            }
            matrix.ifPresent(m -> matrices.put(candidate.weightName(), m));
            candidates.add(candidate);
        }
        if (candidates.isEmpty()) {
            throw new CondenseException(ErrorCode.NOTHING_TO_COMPRESS, "nothing to quantize: all " + skipped.size()
                    + " weight layers were skipped (" + LayerSelection.reasons(skipped) + "); lower min_elements or change exclude");
        }
        Dataset calibration = null;
        if (settings.gptq()) {
            calibration = context.calibrationData().orElseThrow(() -> new CondenseException(ErrorCode.DATA_REQUIRED,
                    "quantize with method=gptq needs calibration data to measure each layer's inputs: pass --calibration-data "
                            + "(inputs shaped like the model's input), or use method=rtn"));
        }

        ModelEditor editor = source.edit();
        long opsetBefore = source.opsetVersion("").orElse(0L);
        // MatMulNBits needs no default-domain opset: only a layer that stays in QDQ form asks for one
        ShapeInference shapes = settings.matMulNBits() ? ShapeInference.of(source) : null;
        if (!settings.matMulNBits() || candidates.stream().anyMatch(candidate -> BlockedMatMulWeights.refusal(candidate, true, source, shapes) != null)) {
            requireOpset(editor, opsetBefore, settings);
        }

        Map<String, String> gptqRefusals = new LinkedHashMap<>();
        LayerHessians hessians = null;
        if (settings.gptq()) {
            List<LayerSelection.Candidate> measured = new ArrayList<>();
            List<WeightLayer> layers = new ArrayList<>();
            for (LayerSelection.Candidate candidate : candidates) {
                WeightMatrix matrix = matrices.get(candidate.weightName());
                for (WeightLayer layer : candidate.layers()) {
                    String refusal = gptqRefusal(layer, matrix);
                    if (refusal != null) {
                        gptqRefusals.put(candidate.weightName(), refusal);
                        break;
                    }
                }
                if (!gptqRefusals.containsKey(candidate.weightName())) {
                    measured.add(candidate);
                    layers.addAll(candidate.layers());
                }
            }
            if (!layers.isEmpty()) {
                hessians = LayerHessians.measure(source, measured, calibration, settings.calibrationSamples(), context);
            }
        }
        try {
            return quantize(model, source, foldedReshapes, candidates, matrices, skipped, settings, activations, sqnrSamples, context,
                    editor, opsetBefore, hessians, gptqRefusals, calibration, shapes);
        } finally {
            if (hessians != null) {
                hessians.close();
            }
        }
    }

    /**
     * Rounds to nearest, in parallel, the weight {@code first} and the next ones that take the same path, as many as there are
     * processors (only that many rounded weights wait in the heap to be written).
     */
    private static void roundAhead(int first, List<LayerSelection.Candidate> candidates, OnnxModel source, LowBitSettings settings,
            ShapeInference shapes, LayerHessians hessians, Map<Integer, BlockedMatMulWeights.Rounded> rounded) {
        int window = Math.max(1, Runtime.getRuntime().availableProcessors());
        List<Integer> indices = new ArrayList<>();
        for (int i = first; i < candidates.size() && indices.size() < window; i++) {
            LayerSelection.Candidate candidate = candidates.get(i);
            boolean byRows = BlockedMatMulWeights.refusal(candidate, settings.matMulNBits(), source, shapes) == null
                    && BlockedMatMulWeights.roundsByRows(candidate, settings)
                    && (hessians == null || !hessians.measured(candidate.weightName()));
            if (i == first || byRows) {
                indices.add(i);
            }
        }
        Map<Integer, BlockedMatMulWeights.Rounded> results = indices.parallelStream().collect(Collectors.toMap(
                index -> index, index -> BlockedMatMulWeights.roundToNearest(candidates.get(index),
                        BlockedMatMulWeights.WeightValues.of(source, candidates.get(index).weightName()), settings)));
        rounded.putAll(results);
    }

    private static TechniqueResult quantize(OnnxModel model, OnnxModel source, int foldedReshapes,
            List<LayerSelection.Candidate> candidates, Map<String, WeightMatrix> matrices, List<LayerSelection.Skipped> skipped,
            LowBitSettings settings, StaticActivations.Settings activations, int sqnrSamples, StepContext context, ModelEditor editor,
            long opsetBefore, LayerHessians hessians, Map<String, String> gptqRefusals, Dataset calibration, ShapeInference shapes) {
        Totals totals = new Totals();
        List<Map<String, Object>> layerReports = new ArrayList<>();
        // for the activation step: each layer reading a quantized weight, the weight's scales, its report entry
        List<WeightLayer> quantizedLayers = new ArrayList<>();
        List<float[]> quantizedLayerScales = new ArrayList<>();
        List<Map<String, Object>> quantizedLayerReports = new ArrayList<>();
        // blocked round to nearest: weights rounded ahead, as many at once as there are processors, then written in order
        Map<Integer, BlockedMatMulWeights.Rounded> rounded = new HashMap<>();
        for (int i = 0; i < candidates.size(); i++) {
            context.checkCancelled();
            LayerSelection.Candidate candidate = candidates.get(i);
            context.progress((settings.gptq() ? 0.5 : 0) + (settings.gptq() ? 0.5 : 1.0) * i / candidates.size(),
                    "layer " + (i + 1) + " of " + candidates.size() + ": " + candidate.layerNames());
            Map<String, Object> layer = new LinkedHashMap<>();
            layer.put("name", candidate.layerNames());
            layer.put("op", candidate.opTypes());
            layer.put("weight", candidate.weightName());
            layer.put("shape", shapeList(candidate.shape()));
            layer.put("elements", candidate.elements());
            layer.put("scheme", settings.scheme());
            layer.put("bits", settings.bits());
            String blockedRefusal = BlockedMatMulWeights.refusal(candidate, settings.matMulNBits(), source, shapes);
            boolean blockedPath = settings.blocked() && settings.scheme().equals("uniform") && activations == null && blockedRefusal == null;
            if (source.largeTensor(candidate.weightName()).isPresent() && !blockedPath) {
                // only the blocked path reads a weight piece by piece (its levels, at most 8 bits for at most 2^31 - 9
                // elements, fit one tensor: QDQ or MatMulNBits); every other path holds the float weight as one array
                throw new CondenseException(ErrorCode.UNSUPPORTED_MODEL, "the weight '" + candidate.weightName() + "' of layer "
                        + candidate.layerNames() + " holds more than 2 GiB; Condense quantizes such a weight only as a MatMul's second "
                        + "operand with granularity=block, scheme=uniform and method=rtn, as QDQ or format=matmulnbits"
                        + (blockedRefusal == null ? "" : " (this one cannot: " + blockedRefusal + ")") + "; or exclude it (exclude="
                        + candidate.weightName() + ")");
            }
            // null without GPTQ, and for a weight GPTQ refused
            DMatrixRMaj hessian = hessians == null ? null : hessians.hessian(candidate.weightName());
            if (blockedPath) {
                // one block of output columns at a time from the (memory-mapped) weight: the heap never holds it whole
                BlockedMatMulWeights.Outcome outcome;
                if (hessian == null && BlockedMatMulWeights.roundsByRows(candidate, settings)) {
                    if (!rounded.containsKey(i)) {
                        roundAhead(i, candidates, source, settings, shapes, hessians, rounded);
                    }
                    outcome = BlockedMatMulWeights.finish(editor, candidate, rounded.remove(i), settings,
                            gptqRefusals.get(candidate.weightName()), layer, shapes);
                } else {
                    outcome = BlockedMatMulWeights.write(editor, candidate,
                            BlockedMatMulWeights.WeightValues.of(source, candidate.weightName()), settings,
                            hessian == null ? null : hessians.factor(candidate.weightName(), Math.toIntExact(candidate.shape()[0]),
                                    candidate.layerNames()), hessian, gptqRefusals.get(candidate.weightName()), layer, shapes);
                }
                double sqnr = new SymmetricQuantizer.Energies(outcome.signal(), outcome.noise()).sqnrDb();
                layer.put("sqnr_db", sqnr);
                layer.put("bytes_before", 4L * candidate.elements());
                totals.add(outcome.signal(), outcome.noise(), sqnr, 4L * candidate.elements(),
                        ((Number) layer.get("bytes_after")).longValue(), ((Number) layer.get("bytes_packed")).longValue());
                layerReports.add(layer);
                continue;
            }
            if (settings.matMulNBits()) {
                layer.put("format", "qdq");
                layer.put("matmulnbits_fallback", blockedRefusal + "; written as DequantizeLinear instead");
            }
            float[] weights = source.tensor(candidate.weightName()).toFloatArray();
            int nonFinite = SymmetricQuantizer.firstNonFinite(weights);
            if (nonFinite >= 0) {
                throw new CondenseException(ErrorCode.UNSUPPORTED_MODEL, "cannot quantize layer " + candidate.layerNames() + ": its weight '"
                        + candidate.weightName() + "' holds " + weights[nonFinite] + " at index " + nonFinite
                        + "; exclude the layer or fix the model");
            }
            Written written = switch (settings.scheme()) {
                case "kmeans" -> kmeans(editor, candidate, weights, settings, layer);
                case "pow2" -> powerOfTwo(editor, candidate, weights, settings, layer);
                default -> uniform(editor, candidate, matrices.get(candidate.weightName()), weights, settings, hessian,
                        gptqRefusals.get(candidate.weightName()), layer);
            };
            SymmetricQuantizer.Energies energies = SymmetricQuantizer.Energies.of(weights, written.dequantized());
            double signal = energies.signal();
            double noise = energies.noise();
            double sqnr = energies.sqnrDb();
            layer.put("sqnr_db", sqnr);
            layer.put("bytes_before", 4L * candidate.elements());
            totals.add(signal, noise, sqnr, 4L * candidate.elements(), ((Number) layer.get("bytes_after")).longValue(),
                    ((Number) layer.get("bytes_packed")).longValue());
            layerReports.add(layer);
            for (WeightLayer weightLayer : candidate.layers()) {
                quantizedLayers.add(weightLayer);
                quantizedLayerScales.add(written.channelScales());
                quantizedLayerReports.add(layer);
            }
        }
        ActivationStep activationStep = null;
        if (activations != null) {
            Dataset data = context.calibrationData().orElseThrow(() -> new IllegalStateException("activations without calibration data"));
            activationStep = ActivationStep.apply(source, editor, quantizedLayers, quantizedLayerScales, quantizedLayerReports,
                    data, activations, context);
            int samples = Math.min(sqnrSamples, data.size());
            double outputSqnr = LayerRanking.addOutputSqnr(source, activationStep.model(), quantizedLayers, quantizedLayerReports,
                    !activations.symmetric(), data, samples, true, context);
            activationStep = activationStep.withOutputSqnr(outputSqnr, samples);
            LayerRanking.sortWorstFirst(layerReports);
        }
        OnnxModel result = activationStep != null ? activationStep.model() : editor.build();
        if (settings.incrementalSchedule()) {
            Map<String, Integer> bottoms = new LinkedHashMap<>();
            for (Map<String, Object> layer : layerReports) {
                bottoms.put((String) layer.get("weight"), ((Number) layer.get("bottom_exponent")).intValue());
            }
            result = new IncrementalPowerOfTwo(settings.bits(), settings.incremental(), 1, bottoms).writeTo(result);
        }
        context.progress(1.0, "quantized " + layerReports.size() + " layers");

        Report.Builder report = Report.builder()
                .put("technique", QuantizeTechnique.ID)
                .put("scheme", settings.scheme())
                .put("bits", settings.bits());
        if (!settings.scheme().equals("kmeans")) {
            report.put("granularity", settings.granularity());
        }
        if (settings.blocked()) {
            report.put("block", settings.block());
        }
        report.put("format", settings.format());
        if (settings.scheme().equals("uniform")) {
            report.put("method", settings.method());
        }
        report.put("layers_quantized", layerReports.size())
                .put("layers_skipped", skipped.size())
                .put("sqnr_db", new SymmetricQuantizer.Energies(totals.signal, totals.noise).sqnrDb())
                .put("min_sqnr_db", totals.worstSqnr)
                .put("weight_bytes_before", totals.bytesBefore)
                .put("weight_bytes_after", totals.bytesAfter)
                .put("weight_bytes_packed", totals.bytesPacked)
                .put("model_bytes_before", model.serializedSize())
                .put("model_bytes_after", result.serializedSize())
                .put("opset_before", opsetBefore)
                .put("opset_after", result.opsetVersion("").orElse(0L));
        if (settings.gptq()) {
            report.put("calibration_samples", Math.min(settings.calibrationSamples(), calibration.size()));
            if (hessians != null) {
                report.put("calibration_spilled_inputs", hessians.spilledInputs());
                report.put("calibration_spilled_bytes", hessians.spilledBytes());
            }
        }
        if (activationStep != null) {
            activationStep.report(report);
            report.put("layer_output_sqnr_samples", activationStep.sqnrSamples());
        }
        if (foldedReshapes > 0) {
            report.put("folded_reshapes", foldedReshapes);
        }
        report.put("skipped", LayerSelection.skippedReport(skipped));
        for (Map<String, Object> layer : layerReports) {
            report.addLayer(layer);
        }
        return new TechniqueResult(result, report.build());
    }

    private static void requireOpset(ModelEditor editor, long opsetBefore, LowBitSettings settings) {
        long opsetNeeded = opsetNeeded(settings);
        if (opsetNeeded > 0) {
            try {
                editor.requireOpset("", opsetNeeded);
            } catch (CondenseException e) {
                throw new CondenseException(ErrorCode.UNSUPPORTED_MODEL, "cannot quantize: " + describe(settings) + " need opset "
                        + opsetNeeded + " but the model imports opset " + opsetBefore + " and Condense cannot upgrade it: " + e.getMessage()
                        + (opsetNeeded == BLOCKED_OPSET && settings.bits() == 8 ? " (granularity=per_channel needs only opset 13)" : ""), e);
            }
        }
    }

    /** The default-domain opset the written form needs, or 0 when the model's own will do. */
    static long opsetNeeded(LowBitSettings settings) {
        return switch (settings.scheme()) {
            case "kmeans" -> settings.bits() <= 4 ? BLOCKED_OPSET : 0;
            case "pow2" -> settings.bits() > 4 || settings.incrementalSchedule() ? 0 : settings.perTensor() ? QdqWeights.PER_TENSOR_OPSET : QdqWeights.PER_AXIS_OPSET;
            default -> settings.blocked() || settings.bits() <= 4 ? BLOCKED_OPSET
                    : settings.perTensor() ? QdqWeights.PER_TENSOR_OPSET : QdqWeights.PER_AXIS_OPSET;
        };
    }

    private static String describe(LowBitSettings settings) {
        return switch (settings.scheme()) {
            case "kmeans" -> "4-bit codebook indices (uint4)";
            case "pow2" -> "power-of-two levels through DequantizeLinear";
            default -> (settings.blocked() ? "blocked DequantizeLinear (block_size)" : settings.bits() + "-bit DequantizeLinear")
                    + (settings.bits() <= 4 ? " with uint4 levels" : "");
        };
    }

    /** Why GPTQ cannot see {@code layer}'s inputs as rows of its weight matrix's columns, or null when it can. */
    static String gptqRefusal(WeightLayer layer, WeightMatrix matrix) {
        NodeProto node = layer.node();
        switch (node.getOpType()) {
            case "Conv" -> {
                long[] shape = matrix.shape();
                if (shape.length != 4) {
                    return "GPTQ handles 2-D convolutions (weight rank 4), this weight has rank " + shape.length;
                }
                long group = NodeAttributes.getInt(node, "group", 1);
                if (group != 1) {
                    return "GPTQ does not handle grouped convolutions (group=" + group + ")";
                }
                return null;
            }
            case "Gemm" -> {
                return NodeAttributes.getInt(node, "transA", 0) != 0 ? "GPTQ does not handle Gemm with transA=1" : null;
            }
            case "MatMul" -> {
                return !node.getInput(1).equals(layer.weightName()) || node.getInput(0).equals(layer.weightName())
                        ? "GPTQ handles MatMul with the weight as second operand" : null;
            }
            default -> {
                return "GPTQ does not handle " + node.getOpType();
            }
        }
    }

    private static Written uniform(ModelEditor editor, LayerSelection.Candidate candidate, WeightMatrix matrix, float[] weights,
            LowBitSettings settings, DMatrixRMaj hessian, String gptqRefusal, Map<String, Object> layer) {
        int rows = matrix.rows();
        int columns = matrix.columns();
        AffineGrid grid = new AffineGrid(settings.bits(), settings.blocked() ? settings.block() : columns, settings.perTensor());
        // GPTQ works on doubles; round to nearest of a weight already stored row-major reads the floats as they are
        double[] rowMajor = hessian != null || matrix.transposed() ? matrix.toRows(weights) : null;
        QuantizedMatrix quantized;
        QuantizedMatrix nearest = rowMajor == null ? QuantizedMatrix.roundToNearest(weights, rows, columns, grid)
                : QuantizedMatrix.roundToNearest(rowMajor, rows, columns, grid);
        layer.put("granularity", settings.granularity());
        if (settings.blocked()) {
            layer.put("block", settings.block());
            layer.put("blocks_per_row", grid.groupsPerRow(columns));
            if (columns % settings.block() != 0) {
                layer.put("last_block", columns % settings.block());
            }
        }
        layer.put("input_features", columns);
        if (hessian != null) {
            Gptq.Result result = Gptq.quantize(rowMajor, rows, columns, hessian, grid, candidate.layerNames());
            quantized = result.matrix();
            layer.put("method", "gptq");
            layer.put("damping", result.damping());
            layer.put("dead_features", result.deadFeatures());
            layer.put("output_error_rtn", Gptq.outputError(rowMajor, nearest.dequantized(), rows, columns, hessian));
            layer.put("output_error_gptq", Gptq.outputError(rowMajor, quantized.dequantized(), rows, columns, hessian));
        } else {
            quantized = nearest;
            layer.put("method", "rtn");
            if (gptqRefusal != null) {
                layer.put("gptq_fallback", gptqRefusal + "; rounded to nearest instead");
            }
        }

        String weightName = candidate.weightName();
        // 2 and 3 bits in a uint4 container: ONNX has no narrower type; the report gives the size packed at `bits`
        DataType type = settings.bits() <= 4 ? DataType.UINT4 : DataType.UINT8;
        int groups = quantized.scales().length;
        int perRow = quantized.groupsPerRow();
        String levelsName = editor.uniqueName(weightName + "_quantized");
        String scaleName = editor.uniqueName(weightName + "_scale");
        String zeroPointName = editor.uniqueName(weightName + "_zero_point");
        String output = editor.uniqueName(weightName + "_dequantized");
        editor.putInitializer(QdqWeights.levels(levelsName, type, matrix.storedShape(), matrix.toStored(quantized.levels())));
        OptionalInt axis;
        if (settings.perTensor()) {
            editor.putInitializer(QdqWeights.scales(scaleName, quantized.scales(), false));
            editor.putInitializer(QdqWeights.levels(zeroPointName, type, new long[0], quantized.zeroPointBytes()));
            axis = OptionalInt.empty();
        } else if (!settings.blocked()) {
            editor.putInitializer(QdqWeights.scales(scaleName, quantized.scales(), true));
            editor.putInitializer(QdqWeights.levels(zeroPointName, type, new long[] {rows}, quantized.zeroPointBytes()));
            axis = OptionalInt.of(matrix.channelAxis());
        } else {
            long[] scaleShape = matrix.transposed() ? new long[] {perRow, rows} : new long[] {rows, perRow};
            editor.putInitializer(Tensor.fromFloats(scaleName, DataType.FLOAT, scaleShape, matrix.toStored(quantized.scales(), perRow))
                    .toProto());
            editor.putInitializer(QdqWeights.levels(zeroPointName, type, scaleShape,
                    transpose(quantized.zeroPointBytes(), rows, perRow, matrix.transposed())));
            axis = OptionalInt.of(matrix.featureAxis());
        }
        NodeProto dequantize = QdqWeights.dequantizeLinear(editor.uniqueName(weightName + "_DequantizeLinear"), levelsName, scaleName,
                zeroPointName, output, axis);
        if (settings.blocked()) {
            dequantize = dequantize.toBuilder().addAttribute(AttributeProto.newBuilder().setName("block_size")
                    .setType(AttributeProto.AttributeType.INT).setI(settings.block())).build();
        }
        editor.addNode(dequantize);
        String value = output;
        long[] shape = candidate.shape();
        if (shape.length != 2) {
            String shapeName = editor.uniqueName(weightName + "_shape");
            value = editor.uniqueName(weightName + "_reshaped");
            editor.putInitializer(Tensor.fromLongs(shapeName, new long[] {shape.length}, shape).toProto());
            editor.addNode(NodeProto.newBuilder().setOpType("Reshape").setName(editor.uniqueName(weightName + "_Reshape"))
                    .addInput(output).addInput(shapeName).addOutput(value).build());
        }
        QdqWeights.rewire(editor, candidate.layers(), weightName, value);

        long elements = candidate.elements();
        layer.put("levels_type", type.name().toLowerCase(java.util.Locale.ROOT));
        layer.put("scales", groups);
        layer.put("bytes_after", type.byteSize(elements) + 4L * groups + type.byteSize(groups));
        layer.put("bytes_packed", packedBytes(elements, settings.bits()) + 4L * groups + packedBytes(groups, settings.bits()));
        return new Written(toStoredFloats(quantized.dequantized(), matrix), channelScales(quantized.scales(), rows, perRow));
    }

    private static Written kmeans(ModelEditor editor, LayerSelection.Candidate candidate, float[] weights, LowBitSettings settings,
            Map<String, Object> layer) {
        KMeansSharing.Codebook codebook = KMeansSharing.cluster(weights, 1 << settings.bits(), settings.clustering().equals("optimal"));
        String weightName = candidate.weightName();
        DataType type = settings.bits() <= 4 ? DataType.UINT4 : DataType.UINT8;
        String indicesName = editor.uniqueName(weightName + "_indices");
        String codebookName = editor.uniqueName(weightName + "_codebook");
        String castName = editor.uniqueName(weightName + "_indices_int32");
        String output = editor.uniqueName(weightName + "_shared");
        editor.putInitializer(QdqWeights.levels(indicesName, type, candidate.shape(), codebook.indices()));
        editor.putInitializer(Tensor.fromFloats(codebookName, DataType.FLOAT, new long[] {codebook.centroids().length},
                codebook.centroids()).toProto());
        editor.addNode(NodeProto.newBuilder().setOpType("Cast").setName(editor.uniqueName(weightName + "_Cast")).addInput(indicesName)
                .addOutput(castName).addAttribute(AttributeProto.newBuilder().setName("to").setType(AttributeProto.AttributeType.INT)
                        .setI(TO_INT32)).build());
        editor.addNode(NodeProto.newBuilder().setOpType("Gather").setName(editor.uniqueName(weightName + "_Gather")).addInput(codebookName)
                .addInput(castName).addOutput(output).addAttribute(AttributeProto.newBuilder().setName("axis")
                        .setType(AttributeProto.AttributeType.INT).setI(0)).build());
        QdqWeights.rewire(editor, candidate.layers(), weightName, output);

        long elements = candidate.elements();
        int clusters = codebook.centroids().length;
        layer.put("clusters", clusters);
        layer.put("kmeans", codebook.method());
        if (codebook.method().equals("lloyd")) {
            layer.put("lloyd_iterations", codebook.iterations());
        }
        layer.put("indices_type", type.name().toLowerCase(java.util.Locale.ROOT));
        layer.put("bytes_after", type.byteSize(elements) + 4L * clusters);
        layer.put("bytes_packed", packedBytes(elements, settings.bits()) + 4L * clusters);
        float[] dequantized = new float[weights.length];
        for (int i = 0; i < weights.length; i++) {
            dequantized[i] = codebook.centroids()[codebook.indices()[i] & 0xFF];
        }
        return new Written(dequantized, null);
    }

    private static Written powerOfTwo(ModelEditor editor, LayerSelection.Candidate candidate, float[] weights, LowBitSettings settings,
            Map<String, Object> layer) {
        if (settings.incrementalSchedule()) {
            return incrementalPowerOfTwo(editor, candidate, weights, settings, layer);
        }
        long[] shape = candidate.shape();
        int axis = candidate.outputChannelAxis();
        ChannelLayout layout = !settings.perTensor() && candidate.sameOutputChannelAxis() && axis < shape.length
                ? ChannelLayout.of(shape, axis) : ChannelLayout.perTensor(candidate.elements());
        int channels = layout.channels();
        double[] maxima = new double[channels];
        for (int i = 0; i < weights.length; i++) {
            int channel = layout.channelOf(i);
            maxima[channel] = Math.max(maxima[channel], Math.abs(weights[i]));
        }
        int[] bottoms = new int[channels];
        float[] scales = new float[channels];
        for (int channel = 0; channel < channels; channel++) {
            // a channel of zeros keeps scale 1 and levels 0
            bottoms[channel] = maxima[channel] > 0 ? PowerOfTwo.bottomExponent(maxima[channel], settings.bits()) : 0;
            scales[channel] = Math.scalb(1f, bottoms[channel]);
        }
        float[] dequantized = new float[weights.length];
        byte[] levels = new byte[weights.length];
        for (int i = 0; i < weights.length; i++) {
            int channel = layout.channelOf(i);
            double value = PowerOfTwo.value(weights[i], bottoms[channel], settings.bits());
            dequantized[i] = (float) value;
            if (settings.bits() <= 4) {
                levels[i] = (byte) Math.round(value / scales[channel]);
                dequantized[i] = levels[i] * scales[channel];
            }
        }
        long elements = candidate.elements();
        layer.put("granularity", layout.perChannel() ? "per_channel" : "per_tensor");
        layer.put("exponents", PowerOfTwo.exponents(settings.bits()));
        layer.put("scales", channels);
        if (settings.bits() <= 4) {
            QdqWeights.write(editor, candidate.weightName(), candidate.layers(), "quantized", DataType.INT8, shape, levels, scales,
                    layout.perChannel() ? OptionalInt.of(axis) : OptionalInt.empty());
            layer.put("levels_type", "int8");
            layer.put("bytes_after", elements + 5L * channels);
        } else {
            editor.putInitializer(Tensor.fromFloats(candidate.weightName(), DataType.FLOAT, shape, dequantized).toProto());
            layer.put("levels_type", "float");
            layer.put("bytes_after", 4L * elements);
        }
        // packed: a sign and an exponent index (0 meaning zero) in `bits`, one exponent byte per scale
        layer.put("bytes_packed", packedBytes(elements, settings.bits()) + channels);
        return new Written(dequantized, settings.bits() <= 4 ? scales : null);
    }

    /**
     * INQ's first stage: one window for the layer (from its largest magnitude), the largest {@code incremental[0]} share of the
     * weights rounded to zero or a power of two, the rest left as they are; written as float values (finetune trains the rest).
     */
    private static Written incrementalPowerOfTwo(ModelEditor editor, LayerSelection.Candidate candidate, float[] weights,
            LowBitSettings settings, Map<String, Object> layer) {
        float[] values = weights.clone();
        int bottom = IncrementalPowerOfTwo.bottom(values, settings.bits());
        int frozen = IncrementalPowerOfTwo.freeze(values, new boolean[values.length], settings.incremental().get(0), bottom, settings.bits());
        editor.putInitializer(Tensor.fromFloats(candidate.weightName(), DataType.FLOAT, candidate.shape(), values).toProto());
        long elements = candidate.elements();
        layer.put("granularity", "per_tensor");
        layer.put("exponents", PowerOfTwo.exponents(settings.bits()));
        layer.put("bottom_exponent", bottom);
        layer.put("incremental", settings.incremental());
        layer.put("on_grid", frozen);
        layer.put("levels_type", "float");
        layer.put("bytes_after", 4L * elements);
        layer.put("bytes_packed", packedBytes(elements, settings.bits()) + 1);
        return new Written(values, null);
    }

    /**
     * One scale per output channel (or one per tensor) for the int32 bias of static activations: the channel's own scale, or
     * with blocks the largest of its row's block scales (no single weight scale exists then; the bias only needs a grid
     * fine enough: one activation step times one weight step of the row's widest block).
     */
    static float[] channelScales(float[] scales, int rows, int perRow) {
        if (scales.length == 1 || perRow == 1) {
            return scales;
        }
        float[] channels = new float[rows];
        for (int row = 0; row < rows; row++) {
            float largest = 0;
            for (int group = 0; group < perRow; group++) {
                largest = Math.max(largest, scales[row * perRow + group]);
            }
            channels[row] = largest;
        }
        return channels;
    }

    /**
     * A weight as written: its dequantized values (stored order) and the scales the activation step quantizes its layers'
     * biases with, null when it is not read through DequantizeLinear (k-means codebooks, 8-bit powers of two).
     */
    private record Written(float[] dequantized, float[] channelScales) {
    }

    private static float[] toStoredFloats(float[] rowMajor, WeightMatrix matrix) {
        if (!matrix.transposed()) {
            return rowMajor;
        }
        float[] stored = new float[rowMajor.length];
        for (int row = 0; row < matrix.rows(); row++) {
            for (int column = 0; column < matrix.columns(); column++) {
                stored[column * matrix.rows() + row] = rowMajor[row * matrix.columns() + column];
            }
        }
        return stored;
    }

    private static byte[] transpose(byte[] rowMajor, int rows, int columns, boolean transposed) {
        if (!transposed) {
            return rowMajor;
        }
        byte[] result = new byte[rowMajor.length];
        for (int row = 0; row < rows; row++) {
            for (int column = 0; column < columns; column++) {
                result[column * rows + row] = rowMajor[row * columns + column];
            }
        }
        return result;
    }

    static long packedBytes(long count, int bits) {
        return (count * bits + 7) / 8;
    }

    private static List<Long> shapeList(long[] shape) {
        List<Long> dims = new ArrayList<>(shape.length);
        for (long dim : shape) {
            dims.add(dim);
        }
        return dims;
    }

    private static final class Totals {
        double signal;
        double noise;
        double worstSqnr = Double.POSITIVE_INFINITY;
        long bytesBefore;
        long bytesAfter;
        long bytesPacked;

        void add(double layerSignal, double layerNoise, double sqnr, long before, long after, long packed) {
            signal += layerSignal;
            noise += layerNoise;
            worstSqnr = Math.min(worstSqnr, sqnr);
            bytesBefore += before;
            bytesAfter += after;
            bytesPacked += packed;
        }
    }
}
