package io.condense.sdk.technique;

import io.condense.sdk.context.StepContext;
import io.condense.sdk.model.OnnxModel;
import org.pf4j.ExtensionPoint;

/**
 * A compression technique: the extension point every plugin implements (annotate the class with
 * {@code @org.pf4j.Extension}).
 *
 * <p>{@link #apply} receives parameters already validated against {@link TechniqueDescriptor#parameters()}.
 * It must not modify the input model (models are immutable), must return a model ONNX Runtime loads and
 * runs with the same inputs and outputs, and throws {@link io.condense.sdk.error.CondenseException} with a
 * clear message for a model or parameter it cannot handle.
 */
public interface Technique extends ExtensionPoint {

    TechniqueDescriptor descriptor();

    TechniqueResult apply(OnnxModel model, Parameters parameters, StepContext context);
}
