package io.condense.plugin.pruning.channel;

import io.condense.sdk.context.StepContext;
import io.condense.sdk.model.LayerSelection;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.model.channel.ChannelCriterion;
import io.condense.sdk.model.channel.ChannelPruner;
import io.condense.sdk.technique.Parameters;
import io.condense.sdk.technique.Report;
import io.condense.sdk.technique.SelectionParameters;
import io.condense.sdk.technique.TechniqueResult;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Structured channel pruning ({@code prune(structure=channel)}): the step's parameters turned into a
 * {@link ChannelPruner.Request}, the SDK's channel pruning (which removes whole output channels and shrinks the graph), and
 * the step's report.
 */
public final class ChannelPruning {
    public static final String STRUCTURE = "structure";
    public static final String CRITERION = "criterion";
    public static final String CHANNEL_MULTIPLE = "channel_multiple";
    public static final String SCOPE = "scope";
    public static final long DEFAULT_CHANNEL_MULTIPLE = 8;
    /** The parameters channel pruning reads; any other given explicitly is refused. */
    public static final List<String> CHANNEL_PARAMETERS = List.of("sparsity", STRUCTURE, CRITERION, SCOPE, CHANNEL_MULTIPLE,
            SelectionParameters.EXCLUDE, SelectionParameters.MIN_ELEMENTS);
    public static final List<String> STRUCTURES = List.of("unstructured", "channel");
    public static final List<String> CRITERIA = ChannelCriterion.NAMES;

    private ChannelPruning() {
    }

    /** Whether the parameters ask for channel pruning. */
    public static boolean requested(Parameters parameters) {
        return parameters.isSet(STRUCTURE) && parameters.getString(STRUCTURE).equals("channel");
    }

    /**
     * The scope channel pruning uses: the one given, else {@code global} for {@code bn_scale} (network slimming thresholds all
     * BatchNormalization scales at once, which is what its users expect) and {@code layer} for the filter criteria, whose
     * scores do not compare across layers. (Unstructured pruning's default scope, global, is a magnitude threshold.)
     */
    public static String scope(Parameters parameters) {
        if (parameters.isExplicit(SCOPE)) {
            return parameters.getString(SCOPE);
        }
        return ChannelCriterion.fromParameter(parameters.getString(CRITERION)).comparableAcrossLayers() ? "global" : "layer";
    }

    /** What is wrong with the scope for channel pruning, or null: sensitivity is unstructured only, global needs bn_scale. */
    public static String scopeProblem(Parameters parameters) {
        String scope = scope(parameters);
        String criterion = parameters.getString(CRITERION);
        if (scope.equals("sensitivity")) {
            return "applies only to structure=unstructured; channel pruning takes scope=layer (every layer loses the share) "
                    + "or scope=global (one BatchNormalization scale threshold over all layers, criterion=bn_scale)";
        }
        if (scope.equals("global") && !ChannelCriterion.fromParameter(criterion).comparableAcrossLayers()) {
            return "global needs criterion=bn_scale: one threshold over all layers compares their channels' scores, and only "
                    + "BatchNormalization scales are on one scale across layers (filter norms grow with a layer's inputs); use "
                    + "scope=layer with criterion=" + criterion + ", or criterion=bn_scale";
        }
        return null;
    }

    public static TechniqueResult apply(OnnxModel model, Parameters parameters, StepContext context) {
        ChannelPruner.Result result = ChannelPruner.prune(model, request(parameters), context);
        // the SDK's figures (layers last) after the step's own entries
        Report.Builder report = Report.builder().put("technique", "prune").put("structure", "channel");
        for (Map.Entry<String, Object> entry : result.report().values().entrySet()) {
            report.put(entry.getKey(), entry.getValue());
        }
        return new TechniqueResult(result.model(), report.build());
    }

    /** The SDK request the parameters give (the prune technique's validate refused the options of unstructured pruning). */
    static ChannelPruner.Request request(Parameters parameters) {
        LayerSelection selection = SelectionParameters.layerSelection(parameters, new ArrayList<>());
        int multiple = parameters.isSet(CHANNEL_MULTIPLE) ? parameters.getInt(CHANNEL_MULTIPLE) : 1;
        return new ChannelPruner.Request(parameters.getDouble("sparsity"), ChannelCriterion.fromParameter(parameters.getString(CRITERION)),
                multiple, selection.excludePatterns(), selection.minElements(), scope(parameters).equals("global"));
    }
}
