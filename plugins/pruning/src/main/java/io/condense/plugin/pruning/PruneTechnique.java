package io.condense.plugin.pruning;

import ai.onnx.proto.OnnxMl.SparseTensorProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import io.condense.plugin.pruning.channel.ChannelPruning;
import io.condense.sdk.calibration.LayerInputGram;
import io.condense.sdk.context.StepContext;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.model.LayerSelection;
import io.condense.sdk.model.ModelContents;
import io.condense.sdk.model.ModelEditor;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.model.WeightLayer;
import io.condense.sdk.sparsity.MagnitudeThreshold;
import io.condense.sdk.sparsity.NmPattern;
import io.condense.sdk.stats.ModelStats;
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
import io.condense.sdk.technique.ValueCheck;
import io.condense.sdk.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.pf4j.Extension;

/**
 * Unstructured magnitude pruning: zeroes the smallest-magnitude weights of Conv, Gemm and MatMul layers,
 * with one threshold across all selected layers (the default) or per layer, and stores each pruned weight as an ONNX
 * sparse initializer when that is smaller than the dense form. method=sparsegpt, pattern=N:M, scope=sensitivity
 * and the sensitivity table take the per-layer path of {@link PlannedPruning}.
 */
@Extension
public final class PruneTechnique implements Technique {
    public static final String ID = "prune";
    /** Layer scope prunes layers in parallel from this many weights in all (as quantize does), when there are processors to. */
    static final long PARALLEL_ELEMENTS = 1L << 22;
    static final String SPARSITY = "sparsity";
    static final String SCOPE = "scope";
    static final String STORAGE = "storage";
    /** Layers with fewer weights are left dense and unpruned by default: first convolutions are small and sensitive. */
    static final long DEFAULT_MIN_ELEMENTS = 256;

    private static final TechniqueDescriptor DESCRIPTOR = new TechniqueDescriptor(ID, "0.1.0",
            "Unstructured (magnitude or SparseGPT) and N:M pruning of Conv, Gemm and MatMul weights, stored as ONNX sparse "
                    + "initializers when smaller",
            "pruning",
            List.of(
                    ParameterSpec.doubleParameter(SPARSITY, 0.5, Range.closedOpen(0, 1),
                            "Fraction of the selected weights set to zero, the smallest in magnitude first."),
                    ParameterSpec.choiceParameter(SCOPE, "global", List.of("layer", "global", "sensitivity"),
                            "global (the default): one magnitude threshold across all selected layers, so the sparsity is "
                                    + "reached overall and layers with many small weights are pruned more; layer: every selected "
                                    + "layer reaches the sparsity on its own (pattern=N:M is always per layer); sensitivity: each layer gets its own sparsity from the "
                                    + "sensitivity analysis, so that the overall sparsity is reached where accuracy drops least "
                                    + "(needs evaluation or calibration data). With structure=channel: global (the default for "
                                    + "criterion=bn_scale) is one BatchNormalization scale threshold over all layers, as network "
                                    + "slimming does, every layer keeping at least a tenth of its channels; layer (the default for "
                                    + "l1, l2, fpgm) removes the share from every layer."),
                    ParameterSpec.choiceParameter(PruneOptions.METHOD, "magnitude", List.of("magnitude", "sparsegpt"),
                            "magnitude: the smallest |w| are removed; sparsegpt: one-shot OBS/SparseGPT, the weights to remove "
                                    + "are chosen from the layer's inputs on the calibration data (X^T X) and the remaining "
                                    + "weights of the layer are updated to compensate (needs calibration data)."),
                    ParameterSpec.stringParameter(PruneOptions.PATTERN, "",
                            "N:M pattern, for example 2:4: at most N non-zeros in every group of M consecutive weights along "
                                    + "the input dimension (Conv: consecutive input channels at each kernel position), as sparse "
                                    + "tensor cores need; excludes sparsity. Empty: unstructured.")
                            .withCheck(text -> text.isBlank() ? null : NmPattern.problem(text)),
                    ParameterSpec.booleanParameter(PruneOptions.SENSITIVITY, false,
                            "Also measure every selected layer's sensitivity (accuracy with labels, agreement without, with only "
                                    + "that layer pruned to each of sensitivity_sparsities) and report the table."),
                    ParameterSpec.stringListParameter(PruneOptions.SENSITIVITY_SPARSITIES, "0.5,0.7,0.8,0.9,0.95",
                            "Sparsities at which the sensitivity analysis prunes each layer, each in (0, 1).")
                            .withCheck(ValueCheck.eachItem(PruneOptions::sensitivitySparsityProblem)),
                    ParameterSpec.integerParameter(PruneOptions.CALIBRATION_SAMPLES, 256, Range.closed(1, 1_000_000),
                            "Calibration samples whose layer inputs make X^T X for method=sparsegpt."),
                    ParameterSpec.booleanParameter(PruneOptions.SEQUENTIAL, true,
                            "method=sparsegpt: true gathers each layer's inputs on the model whose earlier layers are already "
                                    + "pruned (one calibration pass per layer, every selected weight in memory: models up to 2 GiB); "
                                    + "false runs the calibration data through the original model once and prunes one weight at "
                                    + "a time, its inputs spilled to disk beyond a budget (bounded memory, any model size; a model "
                                    + "over 2 GiB always takes this path, with scope=layer or a pattern)."),
                    ParameterSpec.integerParameter(PruneOptions.SENSITIVITY_SAMPLES, 1000, Range.closed(1, 1_000_000),
                            "Samples the sensitivity analysis evaluates for each layer and sparsity."),
                    SelectionParameters.exclude("Layers to leave alone"),
                    SelectionParameters.minElements(DEFAULT_MIN_ELEMENTS,
                            "Layers whose weight has fewer elements are left alone (default 256: small first "
                                    + "convolutions are sensitive and their weights weigh nothing in the file)."),
                    ParameterSpec.choiceParameter(STORAGE, "auto", List.of("auto", "dense"),
                            "auto: a pruned weight is written as an ONNX sparse initializer (values + int64 indices) "
                                    + "when that is smaller, which needs more than 2/3 zeros; dense: always dense "
                                    + "(for runtimes without sparse initializers)."),
                    ParameterSpec.choiceParameter(ChannelPruning.STRUCTURE, "unstructured", ChannelPruning.STRUCTURES,
                            "unstructured: zero single weights; channel: remove whole output channels of Conv, Gemm and MatMul "
                                    + "layers and shrink the graph (BatchNormalization, next layers' inputs, residual adds and "
                                    + "concats together; a removed channel's constant BatchNormalization shift folded into the next "
                                    + "layer's bias); sparsity is then the share of channels removed, per group or overall (scope)."),
                    ParameterSpec.choiceParameter(ChannelPruning.CRITERION, "l1", ChannelPruning.CRITERIA,
                            "structure=channel only: l1 or l2 norm of each filter, fpgm (distance to the geometric median of "
                                    + "the filters), or bn_scale (|scale| of the BatchNormalization after the layer)."),
                    ParameterSpec.integerParameter(ChannelPruning.CHANNEL_MULTIPLE, ChannelPruning.DEFAULT_CHANNEL_MULTIPLE,
                            Range.closed(1, 1024), "structure=channel only: channels kept per group rounded to a multiple of "
                                    + "this when the group has a multiple of it (ONNX Runtime's fast kernels want multiples of 8); 1: exact.")));

    @Override
    public TechniqueDescriptor descriptor() {
        return DESCRIPTOR;
    }

    @Override
    public List<ParameterProblem> validate(Parameters parameters) {
        return PruneOptions.problems(parameters);
    }

    @Override
    public Map<String, String> resolvedDefaults(Parameters parameters) {
        return ChannelPruning.requested(parameters) && !parameters.isExplicit(SCOPE)
                ? Map.of(SCOPE, ChannelPruning.scope(parameters)) : Map.of();
    }

    @Override
    public TechniqueResult apply(OnnxModel model, Parameters parameters, StepContext context) {
        return TechniqueResult.withHalfPrecisionWidened(model, widened -> compress(widened, parameters, context));
    }

    private TechniqueResult compress(OnnxModel model, Parameters parameters, StepContext context) {
        if (ChannelPruning.requested(parameters)) {
            List<ParameterProblem> problems = PruneOptions.problems(parameters);
            if (!problems.isEmpty()) {
                throw new InvalidParametersException(problems);
            }
            return ChannelPruning.apply(model, parameters, context);
        }
        PruneOptions options = PruneOptions.of(parameters);
        double sparsity = parameters.getDouble(SPARSITY);
        boolean global = parameters.getString(SCOPE).equals("global");
        boolean allowSparse = parameters.getString(STORAGE).equals("auto");
        LayerSelection layerSelection = SelectionParameters.layerSelection(parameters, new ArrayList<>());

        // weights reshaped at run time (mnist-8's MatMul weight) become initializers the layers read directly
        OnnxModel source = model.edit().foldConstantReshapes().build();
        int foldedReshapes = model.nodes().size() - source.nodes().size();
        List<WeightLayer> layers = source.weightLayers();
        if (layers.isEmpty()) {
            throw new CondenseException(ErrorCode.NOTHING_TO_COMPRESS, "nothing to prune: the model has no Conv, Gemm or MatMul "
                    + "layer whose weight is a constant (initializer); it has " + ModelContents.describe(model));
        }
        LayerSelection.Result selection = layerSelection.select(source, layers);
        if (options.method() == LayerPruner.Method.SPARSEGPT) {
            // sparsegpt reconstructs from each layer's inputs: layers whose inputs are not gathered are left alone, named
            List<LayerSelection.Candidate> gathered = new ArrayList<>();
            List<LayerSelection.Skipped> skipped = new ArrayList<>(selection.skipped());
            for (LayerSelection.Candidate candidate : selection.candidates()) {
                String refusal = null;
                for (WeightLayer layer : candidate.layers()) {
                    refusal = refusal != null ? refusal : LayerInputGram.refusal(layer, candidate.shape());
                }
                if (refusal == null) {
                    gathered.add(candidate);
                } else {
                    skipped.add(LayerSelection.Skipped.of(candidate, "method=sparsegpt: " + refusal));
                }
            }
            selection = new LayerSelection.Result(gathered, skipped);
        }
        List<LayerSelection.Candidate> candidates = selection.candidates();
        if (candidates.isEmpty()) {
            throw new CondenseException(ErrorCode.NOTHING_TO_COMPRESS, "nothing to prune: all " + selection.skipped().size()
                    + " weight layers were skipped (" + selection.skippedReasons() + "); lower min_elements or change exclude");
        }

        if (options.planned()) {
            return PlannedPruning.apply(model, source, selection, options, foldedReshapes, context);
        }

        int count = candidates.size();
        Map<String, Long> macsByNode = ModelStats.macsByNode(source);
        MagnitudeThreshold threshold = new MagnitudeThreshold();
        int[][] weights = new int[count][];
        MagnitudeThreshold.Threshold globalThreshold = null;
        if (global) {
            long total = 0;
            for (int i = 0; i < count; i++) {
                context.checkCancelled();
                weights[i] = readBits(source, candidates.get(i), null);
                total += weights[i].length;
            }
            context.progress(0.0, "global threshold over " + total + " weights of " + count + " layers");
            globalThreshold = threshold.find(weights, Math.round(sparsity * total));
        }

        ModelEditor editor = source.edit();
        PruneTally tally = new PruneTally(macsByNode);
        long tiesLeft = global ? globalThreshold.ties() : 0;
        // layer scope on a large model: the layers' thresholds and pruned weights computed in parallel (each task its own
        // buffers), then written in order
        List<Pruned> prepared = null;
        long totalElements = 0;
        for (LayerSelection.Candidate candidate : candidates) {
            totalElements += candidate.elements();
        }
        if (!global && count > 1 && totalElements >= PARALLEL_ELEMENTS && Runtime.getRuntime().availableProcessors() > 1) {
            context.progress(0.0, "pruning " + count + " layers in parallel");
            List<LayerSelection.Candidate> all = candidates;
            OnnxModel weightsSource = source;
            prepared = IntStream.range(0, count).parallel()
                    .mapToObj(index -> pruneLayer(all.get(index), readBits(weightsSource, all.get(index), null), sparsity, allowSparse,
                            new MagnitudeThreshold()))
                    .collect(Collectors.toList());
        }
        int[] buffer = null;
        for (int i = 0; i < count; i++) {
            context.checkCancelled();
            LayerSelection.Candidate candidate = candidates.get(i);
            context.progress((double) i / count, "layer " + (i + 1) + " of " + count + ": " + candidate.layerNames());
            long[] shape = candidate.shape();
            Pruned layer;
            if (global) {
                // the layer's share of the global threshold is known only once applied: dense first, sparse from it
                int[] values = weights[i];
                weights[i] = null;
                byte[] dense = new byte[Math.multiplyExact(values.length, 4)];
                MagnitudeThreshold.Applied applied = MagnitudeThreshold.apply(values, globalThreshold.bits(), tiesLeft, dense);
                tiesLeft -= applied.tiesUsed();
                int nonZeros = applied.nonZeros();
                boolean sparse = allowSparse && WeightEncoding.sparseIsSmaller(values.length, nonZeros);
                layer = sparse ? new Pruned(values.length, nonZeros, null, WeightEncoding.sparse(candidate.weightName(), shape, dense, nonZeros))
                        : new Pruned(values.length, nonZeros, WeightEncoding.dense(candidate.weightName(), shape, dense), null);
            } else if (prepared != null) {
                layer = prepared.get(i);
                prepared.set(i, null);
            } else {
                // layers of one size share a work buffer: no fresh (zeroed) array per layer
                buffer = readBits(source, candidate, buffer);
                layer = pruneLayer(candidate, buffer, sparsity, allowSparse, threshold);
            }
            if (layer.sparse() != null) {
                editor.putSparseInitializer(layer.sparse());
            } else {
                editor.putInitializer(layer.dense());
            }
            tally.add(candidate, layer.elements(), layer.nonZeros(), layer.sparse() != null, Map.of());
        }
        OnnxModel pruned = editor.build();
        context.progress(1.0, "pruned " + count + " layers");

        Report.Builder report = Report.builder();
        report.put("technique", ID)
                .put("method", "magnitude")
                .put("scope", global ? "global" : "layer")
                .put("target_sparsity", sparsity);
        tally.putTotals(report, model, pruned, selection.skipped().size());
        if (global) {
            report.put("threshold", (double) globalThreshold.magnitude());
        }
        if (foldedReshapes > 0) {
            report.put("folded_reshapes", foldedReshapes);
        }
        report.put("skipped", LayerSelection.skippedReport(selection.skipped()));
        tally.addLayers(report);
        return new TechniqueResult(pruned, report.build());
    }

    /** One layer pruned: its element count, the non-zeros kept, and its weight as a dense or a sparse initializer. */
    private record Pruned(int elements, int nonZeros, TensorProto dense, SparseTensorProto sparse) {
    }

    /**
     * One layer pruned at its own magnitude threshold (layer scope): straight to sparse form when that is smaller (no dense
     * copy of the pruned weights), else dense bytes.
     *
     * @param values the layer's weights as float32 bit patterns ({@link #readBits})
     */
    private static Pruned pruneLayer(LayerSelection.Candidate candidate, int[] values, double sparsity, boolean allowSparse,
            MagnitudeThreshold threshold) {
        long[] shape = candidate.shape();
        MagnitudeThreshold.Threshold layerThreshold = threshold.find(new int[][] {values}, Math.round(sparsity * values.length));
        int expected = Math.toIntExact(values.length - layerThreshold.zeros());
        if (allowSparse && WeightEncoding.sparseIsSmaller(values.length, expected)) {
            int[] keptValues = new int[expected + 1];
            long[] keptIndices = new long[expected + 1];
            int nonZeros = MagnitudeThreshold.applySparse(values, layerThreshold.bits(), layerThreshold.ties(), keptValues, keptIndices);
            if (nonZeros != expected) {
                throw new IllegalStateException("expected " + expected + " non-zeros in '" + candidate.weightName() + "' but kept " + nonZeros);
            }
            return new Pruned(values.length, nonZeros, null,
                    WeightEncoding.sparse(candidate.weightName(), shape, keptValues, keptIndices, nonZeros));
        }
        byte[] dense = new byte[Math.multiplyExact(values.length, 4)];
        int nonZeros = MagnitudeThreshold.apply(values, layerThreshold.bits(), layerThreshold.ties(), dense).nonZeros();
        return new Pruned(values.length, nonZeros, WeightEncoding.dense(candidate.weightName(), shape, dense), null);
    }

    /** The weight's float32 values as their bit patterns (sparse initializers densified), in {@code reuse} when it fits exactly. */
    private static int[] readBits(OnnxModel model, LayerSelection.Candidate candidate, int[] reuse) {
        Tensor tensor = model.tensor(candidate.weightName());
        int count = Math.toIntExact(tensor.elementCount());
        int[] bits = reuse != null && reuse.length == count ? reuse : new int[count];
        tensor.raw().asIntBuffer().get(bits);
        return bits;
    }
}
