package io.condense.server.plugin;

import static java.util.Objects.requireNonNull;

import io.condense.sdk.context.StepContext;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.technique.InvalidParametersException;
import io.condense.sdk.technique.Parameters;
import io.condense.sdk.technique.Technique;
import io.condense.sdk.technique.TechniqueDescriptor;
import io.condense.sdk.technique.TechniqueResult;
import java.nio.file.Path;
import java.util.Map;

/** A technique offered by a loaded plugin; every call into it runs with the plugin's context class loader. */
public final class LoadedTechnique {
    private final Technique technique;
    private final TechniqueDescriptor descriptor;
    private final String pluginId;
    private final String pluginVersion;
    private final Path pluginPath;
    private final ClassLoader classLoader;

    LoadedTechnique(Technique technique, TechniqueDescriptor descriptor, String pluginId, String pluginVersion, Path pluginPath, ClassLoader classLoader) {
        this.technique = requireNonNull(technique, "technique is null");
        this.descriptor = requireNonNull(descriptor, "descriptor is null");
        this.pluginId = requireNonNull(pluginId, "pluginId is null");
        this.pluginVersion = requireNonNull(pluginVersion, "pluginVersion is null");
        this.pluginPath = requireNonNull(pluginPath, "pluginPath is null");
        this.classLoader = requireNonNull(classLoader, "classLoader is null");
    }

    public String id() {
        return descriptor.id();
    }

    public TechniqueDescriptor descriptor() {
        return descriptor;
    }

    public String pluginId() {
        return pluginId;
    }

    public String pluginVersion() {
        return pluginVersion;
    }

    public Path pluginPath() {
        return pluginPath;
    }

    /**
     * The given values checked as a pipeline step gets checked: the specs, their value checks and the technique's own
     * rules across parameters ({@link Technique#validate}), run in the plugin's class loader.
     *
     * @throws InvalidParametersException with every problem
     * @throws CondenseException PLUGIN_FAILURE when the plugin's validate itself fails
     */
    public Parameters resolve(Map<String, String> given) {
        try (ContextClassLoaderSwap ignored = ContextClassLoaderSwap.to(classLoader)) {
            return Parameters.resolve(technique, given);
        } catch (CondenseException e) {
            throw e;
        } catch (RuntimeException | LinkageError e) {
            throw new CondenseException(ErrorCode.PLUGIN_FAILURE, "technique '" + id() + "' (plugin '" + pluginId + "' " + pluginVersion
                    + ") failed while validating its parameters: " + e, e);
        }
    }

    /**
     * The parameters as the step runs them, for dry runs and reports: the given values, and the defaults as the technique
     * resolves them from the others ({@link Technique#resolvedDefaults}, run in the plugin's class loader; a plugin that
     * fails there shows its descriptor's defaults).
     */
    public Map<String, String> effectiveParameters(Parameters parameters) {
        Map<String, String> values = new java.util.LinkedHashMap<>(parameters.asMap());
        Map<String, String> resolved;
        try (ContextClassLoaderSwap ignored = ContextClassLoaderSwap.to(classLoader)) {
            resolved = technique.resolvedDefaults(parameters);
        } catch (RuntimeException | LinkageError e) {
            resolved = Map.of();
        }
        resolved.forEach((name, value) -> {
            if (!parameters.isExplicit(name) && values.containsKey(name)) {
                values.put(name, value);
            }
        });
        return values;
    }

    public TechniqueResult apply(OnnxModel model, Parameters parameters, StepContext context) {
        try (ContextClassLoaderSwap ignored = ContextClassLoaderSwap.to(classLoader)) {
            return technique.apply(model, parameters, context);
        }
    }
}
