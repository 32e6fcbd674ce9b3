package io.condense.plugin.lowrank;

import ai.onnx.proto.OnnxMl.NodeProto;
import io.condense.sdk.context.StepContext;
import io.condense.sdk.data.Dataset;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.eval.EvaluationRequest;
import io.condense.sdk.eval.EvaluationResult;
import io.condense.sdk.eval.Evaluator;
import io.condense.sdk.model.LayerSelection;
import io.condense.sdk.model.ModelEditor;
import io.condense.sdk.model.NodeAttributes;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.model.WeightLayer;
import io.condense.sdk.stats.ModelStats;
import io.condense.sdk.stats.ShapeInference;
import io.condense.sdk.technique.InvalidParametersException;
import io.condense.sdk.technique.ParameterProblem;
import io.condense.sdk.technique.ParameterSpec;
import io.condense.sdk.technique.Parameters;
import io.condense.sdk.technique.Range;
import io.condense.sdk.technique.Report;
import io.condense.sdk.technique.Technique;
import io.condense.sdk.technique.TechniqueDescriptor;
import io.condense.sdk.technique.TechniqueResult;
import io.condense.sdk.technique.ValueCheck;
import io.condense.sdk.tensor.DataType;
import io.condense.sdk.tensor.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import org.pf4j.Extension;

/**
 * Low-rank factorisation: Gemm and MatMul weights by truncated SVD into two smaller layers; convolutions by spatial
 * SVD (k x k into k x 1 then 1 x k) or Tucker-2 (1 x 1, k x k core, 1 x 1), 1 x 1 convolutions by SVD into two 1 x 1
 * convolutions. The rank is fixed, chosen per layer by kept energy or parameter ratio, or chosen across layers for a
 * whole-model ratio. A layer is factorised only when it gets smaller; the report says why any other is left alone.
 */
@Extension
public final class LowRankTechnique implements Technique {
    public static final String ID = "lowrank";
    static final String RANK = "rank";
    static final String ENERGY = "energy";
    static final String RATIO = "ratio";
    static final String SELECTION = "selection";
    static final String METHOD = "method";
    static final String OPS = "ops";
    static final String SOLVER = "solver";
    static final String OVERSAMPLING = "oversampling";
    static final String POWER_ITERATIONS = "power_iterations";
    static final String SEED = "seed";
    static final String CALIBRATION_SAMPLES = "calibration_samples";
    /** The ratio used when none of rank, energy and ratio is given. */
    static final double DEFAULT_RATIO = 0.5;
    private static final Set<String> KNOWN_OPS = Set.of("Gemm", "MatMul", "Conv");

    private static final TechniqueDescriptor DESCRIPTOR = new TechniqueDescriptor(ID, "0.1.0",
            "Low-rank factorisation: truncated SVD of Gemm/MatMul weights, spatial SVD or Tucker-2 of convolutions", "lowrank",
            List.of(
                    ParameterSpec.integerParameter(RANK, 0, Range.atLeast(0),
                            "Fixed rank of every factorised layer (Tucker-2: on both channel modes); 0 = not used. A rank "
                                    + "above what a layer's matrix allows is refused; a rank that would not shrink a layer "
                                    + "leaves it alone. Give at most one of rank, energy, ratio."),
                    ParameterSpec.doubleParameter(ENERGY, 0, Range.closed(0, 1),
                            "Per layer, the smallest rank keeping this share of the squared singular values (Tucker-2: "
                                    + "of each channel mode); 0 = not used."),
                    ParameterSpec.doubleParameter(RATIO, 0, Range.closedOpen(0, 1),
                            "Target share of the weight parameters to keep: per layer with selection=uniform, over all "
                                    + "factorisable layers together with selection=greedy; 0 = not used. When none of "
                                    + "rank, energy and ratio is given, ratio=" + DEFAULT_RATIO + "."),
                    ParameterSpec.choiceParameter(SELECTION, "auto", List.of("auto", "uniform", "greedy"),
                            "How ratio is spent: uniform gives every layer the same ratio; greedy spends a whole-model "
                                    + "budget where it costs least (per-layer kept energy, or the model's output SQNR on "
                                    + "calibration data, else on the evaluation data's inputs, when the job has data and an "
                                    + "evaluator), as AIMET's greedy compression-ratio selection does; greedy works with ratio "
                                    + "only. auto (the default): greedy when ratio chooses the ranks and the job has calibration "
                                    + "or evaluation data and an evaluator, else uniform; the report says which and why."),
                    ParameterSpec.choiceParameter(METHOD, "auto", List.of("auto", "svd", "spatial_svd", "tucker2"),
                            "auto (the default): Gemm and MatMul by SVD, convolutions by Tucker-2 (any kernel dimension); "
                                    + "svd: Gemm and MatMul only, convolutions left alone; spatial_svd: also k x k convolutions into "
                                    + "k x 1 then 1 x k (Jaderberg et al.); tucker2: also convolutions into 1 x 1, k x k core, "
                                    + "1 x 1 (Tucker-2 by HOSVD). With either conv method 1 x 1 convolutions are split by SVD "
                                    + "into two 1 x 1 convolutions. Depthwise and grouped convolutions are always left alone."),
                    ParameterSpec.stringListParameter(OPS, "Gemm,MatMul,Conv",
                            "Operator types to consider, a comma-separated subset of Gemm, MatMul, Conv.")
                            .withCheck(ValueCheck.eachItem(LowRankTechnique::opProblem)),
                    ParameterSpec.choiceParameter(SOLVER, "auto", List.of("auto", "full", "randomized"),
                            "SVD solver: full (EJML's dense SVD), randomized (range finder with power iterations, Halko "
                                    + "et al.), or auto: randomized when the matrix's smaller side is at least 512 and the "
                                    + "rank plus oversampling at most a quarter of it."),
                    ParameterSpec.integerParameter(OVERSAMPLING, 10, Range.closed(0, 1000),
                            "Randomised SVD: random directions beyond the rank."),
                    ParameterSpec.integerParameter(POWER_ITERATIONS, 2, Range.closed(0, 20),
                            "Randomised SVD: power iterations (each a pass of A A^T, re-orthonormalised)."),
                    ParameterSpec.integerParameter(SEED, 42, null, "Randomised SVD: seed of the Gaussian test matrix."),
                    ParameterSpec.integerParameter(CALIBRATION_SAMPLES, 128, Range.closed(1, 100_000),
                            "selection=greedy with calibration data: samples per measurement of a candidate rank.")));

    @Override
    public TechniqueDescriptor descriptor() {
        return DESCRIPTOR;
    }

    /** The checked settings of one run. */
    private record Settings(RankRule rule, boolean greedy, String method, Set<String> ops, SvdSolver solver, int calibrationSamples,
            String selectionReason) {
    }

    @Override
    public List<ParameterProblem> validate(Parameters parameters) {
        return problems(parameters);
    }

    /** None of rank, energy and ratio given: ratio=0.5 chooses the ranks. */
    @Override
    public Map<String, String> resolvedDefaults(Parameters parameters) {
        return parameters.getInt(RANK) == 0 && parameters.getDouble(ENERGY) == 0 && parameters.getDouble(RATIO) == 0
                ? Map.of(RATIO, String.valueOf(DEFAULT_RATIO)) : Map.of();
    }

    /** Every rule across lowrank's parameters that they break: one of rank, energy and ratio; greedy spends a ratio. */
    private static List<ParameterProblem> problems(Parameters parameters) {
        List<ParameterProblem> problems = new ArrayList<>();
        int rank = parameters.getInt(RANK);
        double energy = parameters.getDouble(ENERGY);
        double ratio = parameters.getDouble(RATIO);
        List<String> given = new ArrayList<>();
        if (rank > 0) {
            given.add(RANK + "=" + rank);
        }
        if (energy > 0) {
            given.add(ENERGY + "=" + energy);
        }
        if (ratio > 0) {
            given.add(RATIO + "=" + ratio);
        }
        if (given.size() > 1) {
            String last = given.get(given.size() - 1);
            problems.add(new ParameterProblem(last.substring(0, last.indexOf('=')), last.substring(last.indexOf('=') + 1),
                    "give only one of rank, energy and ratio, got " + String.join(" and ", given) + ": each chooses the ranks by itself"));
        } else if (parameters.getString(SELECTION).equals("greedy") && (rank > 0 || energy > 0)) {
            problems.add(new ParameterProblem(SELECTION, "greedy", "selection=greedy spends a whole-model ratio, but "
                    + given.get(0) + " was given: use ratio with selection=greedy, or selection=uniform with " + given.get(0)));
        }
        Set<String> ops = new LinkedHashSet<>(parameters.getStringList(OPS));
        if (ops.isEmpty()) {
            problems.add(new ParameterProblem(OPS, parameters.getString(OPS), "is empty: name at least one of Gemm, MatMul, Conv"));
        } else if (parameters.getString(METHOD).equals("svd") && ops.stream().allMatch(KNOWN_OPS::contains)
                && !ops.contains("Gemm") && !ops.contains("MatMul")) {
            problems.add(new ParameterProblem(OPS, parameters.getString(OPS), "with method=svd factorises nothing: svd handles Gemm "
                    + "and MatMul; use method=spatial_svd or method=tucker2 for convolutions"));
        }
        return problems;
    }

    /** What is wrong with one entry of {@code ops}, or null: the parameter's value check. */
    private static String opProblem(String op) {
        return KNOWN_OPS.contains(op) ? null
                : "names '" + op + "', which lowrank cannot factorise: use a comma-separated subset of Gemm, MatMul, Conv";
    }

    private static Settings settings(Parameters parameters, StepContext context) {
        List<ParameterProblem> problems = problems(parameters);
        if (!problems.isEmpty()) {
            throw new InvalidParametersException(problems);
        }
        int rank = parameters.getInt(RANK);
        double energy = parameters.getDouble(ENERGY);
        double ratio = parameters.getDouble(RATIO);
        RankRule rule = rank > 0 ? new RankRule.Fixed(rank)
                : energy > 0 ? new RankRule.Energy(energy)
                : new RankRule.Ratio(ratio > 0 ? ratio : DEFAULT_RATIO);
        String selection = parameters.getString(SELECTION);
        boolean greedy = selection.equals("greedy");
        String selectionReason = "selection=" + selection + " given";
        if (selection.equals("auto")) {
            boolean data = context.calibrationData().isPresent() || context.evaluationData().isPresent();
            greedy = rule instanceof RankRule.Ratio && data && context.evaluator().isPresent();
            selectionReason = greedy ? "auto: greedy, as ratio chooses the ranks and the job has "
                    + (context.calibrationData().isPresent() ? "calibration" : "evaluation") + " data to measure them on"
                    : !(rule instanceof RankRule.Ratio) ? "auto: uniform, as " + rule + " chooses each layer's rank by itself"
                    : !data ? "auto: uniform, as the job has no calibration or evaluation data to measure a whole-model choice on "
                            + "(give --calibration-data, or selection=greedy to spend the ratio by kept energy)"
                    : "auto: uniform, as no evaluator is available to measure a whole-model choice";
        }
        String method = parameters.getString(METHOD);
        Set<String> ops = new LinkedHashSet<>(parameters.getStringList(OPS));
        SvdSolver solver = new SvdSolver(SvdSolver.Mode.parse(parameters.getString(SOLVER)),
                new RandomizedSvd(parameters.getInt(OVERSAMPLING), parameters.getInt(POWER_ITERATIONS), parameters.getLong(SEED)));
        return new Settings(rule, greedy, method, ops, solver, parameters.getInt(CALIBRATION_SAMPLES), selectionReason);
    }

    /** A layer the technique looked at: either a factorisation to run or the reason it is left alone. */
    private record Planned(WeightLayer layer, long[] shape, Factorisation factorisation, String reason) {
    }

    @Override
    public TechniqueResult apply(OnnxModel model, Parameters parameters, StepContext context) {
        return TechniqueResult.withHalfPrecisionWidened(model, widened -> compress(widened, parameters, context));
    }

    private TechniqueResult compress(OnnxModel model, Parameters parameters, StepContext context) {
        Settings settings = settings(parameters, context);
        // weights reshaped at run time (mnist-8's MatMul weight) become initializers the layers read directly
        OnnxModel source = model.edit().foldConstantReshapes().build();
        List<WeightLayer> layers = source.weightLayers();
        if (layers.isEmpty()) {
            throw new CondenseException(ErrorCode.NOTHING_TO_COMPRESS, "nothing to factorise: the model has no Conv, Gemm or "
                    + "MatMul layer whose weight is a constant (initializer); its operators are " + operators(source));
        }
        long opset = source.opsetVersion("").orElse(1L);
        ModelStats statsBefore = ModelStats.of(source);
        ShapeInference shapes = ShapeInference.of(source);
        List<Planned> plans = new ArrayList<>(layers.size());
        for (WeightLayer layer : layers) {
            plans.add(plan(source, layer, settings, opset, statsBefore, shapes));
        }
        List<Planned> factorisable = new ArrayList<>();
        for (Planned plan : plans) {
            if (plan.factorisation() != null) {
                factorisable.add(plan);
            }
        }
        if (factorisable.isEmpty()) {
            throw new CondenseException(ErrorCode.NOTHING_TO_COMPRESS, "nothing to factorise with method=" + settings.method()
                    + " and ops=" + String.join(",", settings.ops()) + ": " + reasons(plans));
        }
        if (settings.rule() instanceof RankRule.Fixed fixed) {
            checkRank(fixed.rank(), factorisable);
        }

        // 1. decompose every layer (the progress bar's first half)
        int count = factorisable.size();
        for (int i = 0; i < count; i++) {
            context.checkCancelled();
            Factorisation factorisation = factorisable.get(i).factorisation();
            context.progress(0.5 * i / count, "decomposing layer " + (i + 1) + " of " + count + ": " + factorisation.name() + " ("
                    + factorisation.decomposedShape() + ")");
            factorisation.decompose(settings.rule(), settings.greedy(), settings.solver());
        }

        // 2. choose ranks
        Map<Factorisation, Selection> selections = new LinkedHashMap<>();
        Map<Factorisation, Double> scores = new LinkedHashMap<>();
        Map<String, Object> greedyReport = new LinkedHashMap<>();
        if (settings.greedy()) {
            selectGreedily(source, factorisable, ((RankRule.Ratio) settings.rule()).ratio(), settings, context, selections, scores,
                    greedyReport);
        } else {
            for (Planned plan : factorisable) {
                selections.put(plan.factorisation(), plan.factorisation().select(settings.rule()));
            }
        }
        boolean any = false;
        for (Selection selection : selections.values()) {
            any |= selection.factorised();
        }
        if (!any) {
            List<String> reasons = new ArrayList<>();
            for (Map.Entry<Factorisation, Selection> entry : selections.entrySet()) {
                reasons.add(entry.getKey().name() + ": " + entry.getValue().reason());
            }
            throw new CondenseException(ErrorCode.NOTHING_TO_COMPRESS, "no layer gets smaller with " + settings.rule() + ": "
                    + String.join("; ", reasons));
        }

        // 3. write (the progress bar's second half)
        ModelEditor editor = source.edit();
        Report.Builder report = Report.builder();
        long factorisedParametersBefore = 0;
        long factorisedParametersAfter = 0;
        long factorisedMacsBefore = 0;
        long factorisedMacsAfter = 0;
        int factorised = 0;
        int index = 0;
        for (Planned plan : plans) {
            Map<String, Object> entry = new LinkedHashMap<>();
            WeightLayer layer = plan.layer();
            entry.put("name", layer.displayName());
            entry.put("op", layer.opType());
            entry.put("weight", layer.weightName());
            entry.put("shape", shapeList(plan.shape()));
            Factorisation factorisation = plan.factorisation();
            Selection selection = factorisation == null ? null : selections.get(factorisation);
            if (factorisation == null || !selection.factorised()) {
                entry.put("status", "left alone");
                entry.put("reason", factorisation == null ? plan.reason() : selection.reason());
                if (factorisation != null) {
                    entry.put("scheme", factorisation.scheme());
                }
                entry.put("parameters", plan.shape() == null ? 0 : Nodes.product(plan.shape(), 0, plan.shape().length));
                report.addLayer(entry);
                continue;
            }
            context.checkCancelled();
            context.progress(0.5 + 0.5 * index++ / count, "writing layer " + factorisation.name());
            Choice choice = selection.choice();
            Written nodes = factorisation.write(editor, choice, opset);
            long parametersAfter = choice.parameters() + nodes.extraParameters();
            factorised++;
            factorisedParametersBefore += factorisation.parametersBefore();
            factorisedParametersAfter += parametersAfter;
            factorisedMacsBefore += factorisation.macsBefore;
            factorisedMacsAfter += choice.macs();
            entry.put("status", "factorised");
            entry.put("scheme", factorisation.scheme());
            entry.put("decomposed", factorisation.decomposedShape());
            entry.put("rank", choice.rankValue());
            entry.put("max_rank", factorisation.maxRank());
            entry.put("parameters_before", factorisation.parametersBefore());
            entry.put("parameters_after", parametersAfter);
            entry.put("macs_before", factorisation.macsBefore);
            entry.put("macs_after", choice.macs());
            entry.put("kept_energy", choice.keptEnergy());
            entry.put("relative_error", choice.relativeError());
            entry.put("solver", factorisation.solverUsed());
            entry.put("nodes", nodes.nodes());
            Double score = scores.get(factorisation);
            if (score != null) {
                entry.put("score", score);
            }
            report.addLayer(entry);
        }
        OnnxModel written = editor.build();
        context.progress(1.0, "factorised " + factorised + " of " + plans.size() + " weight layers");
        ModelStats statsAfter = ModelStats.of(written);

        report.put("technique", ID)
                .put("method", settings.method())
                .put("rank_rule", settings.rule().toString())
                .put("selection", settings.greedy() ? "greedy" : "uniform")
                .put("selection_reason", settings.selectionReason())
                .put("layers_factorised", factorised)
                .put("layers_left_alone", plans.size() - factorised)
                .put("factorised_parameters_before", factorisedParametersBefore)
                .put("factorised_parameters_after", factorisedParametersAfter)
                .put("factorised_macs_before", factorisedMacsBefore)
                .put("factorised_macs_after", factorisedMacsAfter)
                .put("parameters_before", statsBefore.parameters())
                .put("parameters_after", statsAfter.parameters())
                .put("macs_before", statsBefore.macs())
                .put("macs_after", statsAfter.macs())
                .put("model_bytes_before", model.serializedSize())
                .put("model_bytes_after", written.serializedSize());
        List<LayerSelection.Skipped> unhandled = LayerSelection.unhandled(source);
        if (!unhandled.isEmpty()) {
            report.put("left_alone", LayerSelection.skippedReport(unhandled));
        }
        for (Map.Entry<String, Object> entry : greedyReport.entrySet()) {
            report.put(entry.getKey(), entry.getValue());
        }
        return new TechniqueResult(written, report.build());
    }

    private Planned plan(OnnxModel source, WeightLayer layer, Settings settings, long opset, ModelStats stats, ShapeInference shapes) {
        NodeProto node = layer.node();
        String op = layer.opType();
        Tensor weight = source.tensor(layer.weightName());
        long[] shape = weight.shape();
        if (op.equals("ConvTranspose")) {
            return new Planned(layer, shape, null, "lowrank does not factorise ConvTranspose");
        }
        if (op.equals("MatMul") && shape.length != 2) {
            return new Planned(layer, shape, null, "its weight of shape " + java.util.Arrays.toString(shape)
                    + " is a batch of matrices; lowrank factorises one matrix per layer");
        }
        if (!settings.ops().contains(op)) {
            return new Planned(layer, shape, null, op + " is not in ops=" + String.join(",", settings.ops()));
        }
        DataType type = weight.dataType();
        if (type != DataType.FLOAT && type != DataType.FLOAT16 && type != DataType.BFLOAT16) {
            return new Planned(layer, shape, null, "the weight is " + type + ", not a float type (quantized already?)");
        }
        int readers = source.consumers(layer.weightName()).size();
        if (readers > 1) {
            return new Planned(layer, shape, null, "the weight " + layer.weightName() + " is shared by " + readers + " nodes");
        }
        long macs = stats.macsByNode().getOrDefault(layer.displayName(), 0L);
        switch (op) {
            case "Gemm" -> {
                if (opset < 7) {
                    return new Planned(layer, shape, null, "Gemm before opset 7 broadcasts C only by attribute; upgrade the model");
                }
                return new Planned(layer, shape, new MatrixFactorisation(layer, weight, macs, MatrixFactorisation.Layout.GEMM,
                        null, null, null), null);
            }
            case "MatMul" -> {
                MatrixFactorisation.Layout layout = node.getInput(1).equals(layer.weightName())
                        ? MatrixFactorisation.Layout.MATMUL_RIGHT : MatrixFactorisation.Layout.MATMUL_LEFT;
                return new Planned(layer, shape, new MatrixFactorisation(layer, weight, macs, layout, null, null, null), null);
            }
            case "Conv" -> {
                return planConvolution(layer, weight, macs, settings, shapes);
            }
            default -> {
                return new Planned(layer, shape, null, "lowrank does not factorise " + op);
            }
        }
    }

    private Planned planConvolution(WeightLayer layer, Tensor weight, long macs, Settings settings, ShapeInference shapes) {
        NodeProto node = layer.node();
        long[] shape = weight.shape();
        if (settings.method().equals("svd")) {
            return new Planned(layer, shape, null, "method=svd factorises Gemm and MatMul only; method=spatial_svd or "
                    + "method=tucker2 factorises convolutions");
        }
        long group = NodeAttributes.getInt(node, "group", 1);
        if (group != 1) {
            return new Planned(layer, shape, null, (shape[1] == 1 ? "depthwise" : "grouped") + " convolution (group=" + group
                    + "): each group's kernel is already a small separate tensor");
        }
        long[] input = shapes.shape(node.getInput(0)).orElse(null);
        long[] output = shapes.shape(node.getOutput(0)).orElse(null);
        boolean pointwise = true;
        for (int i = 2; i < shape.length; i++) {
            pointwise &= shape[i] == 1;
        }
        if (pointwise) {
            return new Planned(layer, shape, new MatrixFactorisation(layer, weight, macs, MatrixFactorisation.Layout.CONV_POINTWISE,
                    null, input, output), null);
        }
        if (settings.method().equals("tucker2") || settings.method().equals("auto")) {
            return new Planned(layer, shape, new TuckerFactorisation(layer, weight, macs, input, output), null);
        }
        if (shape.length != 4) {
            return new Planned(layer, shape, null, "spatial SVD splits 2-D convolutions; this one is " + (shape.length - 2) + "-D");
        }
        if (shape[2] == 1 || shape[3] == 1) {
            return new Planned(layer, shape, null, "a " + shape[2] + " x " + shape[3] + " kernel is already separable");
        }
        String problem = ConvolutionGeometry.problem(node, shape);
        if (problem != null) {
            return new Planned(layer, shape, null, problem);
        }
        return new Planned(layer, shape, new MatrixFactorisation(layer, weight, macs, MatrixFactorisation.Layout.CONV_SPATIAL,
                ConvolutionGeometry.read(node, shape), input, output), null);
    }

    private static void checkRank(int rank, List<Planned> plans) {
        List<String> problems = new ArrayList<>();
        int smallest = Integer.MAX_VALUE;
        for (Planned plan : plans) {
            Factorisation factorisation = plan.factorisation();
            smallest = Math.min(smallest, factorisation.maxRank());
            if (rank > factorisation.maxRank()) {
                problems.add("layer '" + factorisation.name() + "' (" + plan.layer().opType() + ", weight "
                        + Arrays.toString(plan.shape()) + ", " + factorisation.scheme() + " of the " + factorisation.decomposedShape()
                        + ") allows at most rank " + factorisation.maxRank());
            }
        }
        if (!problems.isEmpty()) {
            throw new CondenseException(ErrorCode.INVALID_PARAMETER, "rank=" + rank + " is larger than the matrix allows: "
                    + String.join("; ", problems) + ". Choose rank <= " + smallest + ", or let energy or ratio choose "
                    + "each layer's rank, or leave the small layers out with ops");
        }
    }

    private void selectGreedily(OnnxModel source, List<Planned> factorisable, double ratio, Settings settings, StepContext context,
            Map<Factorisation, Selection> selections, Map<Factorisation, Double> chosenScores, Map<String, Object> greedyReport) {
        // the calibration data, else the evaluation data's inputs (only outputs are compared, never labels)
        Optional<Dataset> data = context.calibrationData().or(context::evaluationData);
        Optional<Evaluator> evaluator = context.evaluator();
        boolean measured = data.isPresent() && evaluator.isPresent();
        int layers = factorisable.size();
        long[] before = new long[layers];
        List<List<Choice>> candidates = new ArrayList<>(layers);
        List<long[]> parameters = new ArrayList<>(layers);
        List<double[]> scores = new ArrayList<>(layers);
        double budget = 0;
        int evaluations = 0;
        for (int i = 0; i < layers; i++) {
            Factorisation factorisation = factorisable.get(i).factorisation();
            before[i] = factorisation.parametersBefore();
            budget += ratio * before[i];
            List<Choice> choices = factorisation.candidates();
            candidates.add(choices);
            long[] layerParameters = new long[choices.size()];
            double[] layerScores = new double[choices.size()];
            for (int j = 0; j < choices.size(); j++) {
                context.checkCancelled();
                Choice choice = choices.get(j);
                layerParameters[j] = choice.parameters();
                if (measured) {
                    context.progress(0.5, "measuring layer " + (i + 1) + " of " + layers + " (" + factorisation.name() + ") at rank "
                            + choice.rankValue() + " on " + (context.calibrationData().isPresent() ? "calibration" : "evaluation") + " data");
                    ModelEditor editor = source.edit();
                    factorisation.write(editor, choice, source.opsetVersion("").orElse(1L));
                    EvaluationResult result = evaluator.get().compare(source, editor.build(),
                            EvaluationRequest.of(data.get(), Math.min(settings.calibrationSamples(), data.get().size())));
                    layerScores[j] = result.sqnrDb();
                    evaluations++;
                } else {
                    layerScores[j] = choice.keptEnergy();
                }
            }
            parameters.add(layerParameters);
            scores.add(layerScores);
        }
        GreedySelection.Result result = GreedySelection.select(before, parameters, scores, budget);
        for (int i = 0; i < layers; i++) {
            Factorisation factorisation = factorisable.get(i).factorisation();
            int pick = result.chosen()[i];
            if (pick < 0) {
                selections.put(factorisation, Selection.leftAlone(candidates.get(i).isEmpty()
                        ? "no rank makes it smaller"
                        : "the whole-model search keeps it: its candidate ranks cost the most " + (measured ? "output SQNR" : "energy")));
            } else {
                selections.put(factorisation, Selection.of(candidates.get(i).get(pick)));
                chosenScores.put(factorisation, scores.get(i)[pick]);
            }
        }
        long total = 0;
        for (long value : before) {
            total += value;
        }
        greedyReport.put("greedy_score", measured ? "output_sqnr_db" : "kept_energy");
        if (measured) {
            greedyReport.put("greedy_data", context.calibrationData().isPresent() ? "calibration" : "evaluation");
        }
        greedyReport.put("greedy_threshold", result.threshold());
        greedyReport.put("target_ratio", ratio);
        greedyReport.put("achieved_ratio", total == 0 ? 1.0 : (double) result.parameters() / total);
        greedyReport.put("target_reached", result.reached());
        if (measured) {
            greedyReport.put("greedy_evaluations", evaluations);
        }
    }

    private static String reasons(List<Planned> plans) {
        Map<String, List<String>> byReason = new LinkedHashMap<>();
        for (Planned plan : plans) {
            byReason.computeIfAbsent(plan.reason(), reason -> new ArrayList<>()).add(plan.layer().displayName());
        }
        List<String> parts = new ArrayList<>();
        for (Map.Entry<String, List<String>> entry : byReason.entrySet()) {
            List<String> names = entry.getValue();
            parts.add(entry.getKey() + " (" + (names.size() > 4 ? names.subList(0, 4) + " and " + (names.size() - 4) + " more" : names)
                    + ")");
        }
        return String.join("; ", parts);
    }

    private static String operators(OnnxModel model) {
        Set<String> ops = new TreeSet<>();
        for (NodeProto node : model.nodes()) {
            ops.add((node.getDomain().isEmpty() ? "" : node.getDomain() + ":") + node.getOpType());
        }
        return ops.isEmpty() ? "none" : String.join(", ", ops);
    }

    private static List<Long> shapeList(long[] shape) {
        List<Long> list = new ArrayList<>(shape.length);
        for (long dimension : shape) {
            list.add(dimension);
        }
        return list;
    }
}
