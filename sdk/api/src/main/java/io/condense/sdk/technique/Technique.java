package io.condense.sdk.technique;

import io.condense.sdk.context.StepContext;
import io.condense.sdk.model.OnnxModel;
import java.util.List;
import org.pf4j.ExtensionPoint;

/**
 * A compression technique: the extension point every plugin implements (annotate the class with
 * {@code @org.pf4j.Extension}).
 *
 * <p>{@link #apply} receives parameters already validated against {@link TechniqueDescriptor#parameters()} and
 * {@link #validate}.
 * It must not modify the input model (models are immutable), must return a model ONNX Runtime loads and
 * runs with the same inputs and outputs, and throws {@link io.condense.sdk.error.CondenseException} with a
 * clear message for a model or parameter it cannot handle.
 */
public interface Technique extends ExtensionPoint {

    TechniqueDescriptor descriptor();

    /**
     * The problems of a set of parameter values that each passed its own spec but break a rule across parameters
     * ({@code pattern} excludes an explicit {@code sparsity}, one of {@code rank}, {@code energy} and {@code ratio}),
     * every one, not just the first. The host calls it when a pipeline is submitted, before the job is queued, so a
     * broken pipeline never reaches a worker; {@link #apply} then receives only parameters that passed it. Must not
     * read a model or data: what depends on the model is {@link #apply}'s to refuse.
     *
     * <p>Modelled on Kafka Connect's {@code Connector.validate}. The default finds nothing wrong.
     */
    default List<ParameterProblem> validate(Parameters parameters) {
        return List.of();
    }

    /**
     * The values this technique uses for parameters left at their default when the value depends on the other parameters
     * (prune's {@code scope} is {@code layer}, not the descriptor's {@code global}, for channel pruning by a filter
     * criterion), so that a dry run shows what will run. Called only with parameters that passed {@link #validate}; must
     * not read a model or data. The default: every default is the descriptor's.
     */
    default java.util.Map<String, String> resolvedDefaults(Parameters parameters) {
        return java.util.Map.of();
    }

    TechniqueResult apply(OnnxModel model, Parameters parameters, StepContext context);
}
