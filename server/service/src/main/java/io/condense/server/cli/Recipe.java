package io.condense.server.cli;

import static java.util.Objects.requireNonNull;

import io.condense.proto.v1.PipelineStep;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;
import org.yaml.snakeyaml.error.YAMLException;

/**
 * A pipeline kept in a file ({@code condense compress --recipe deep-compression.yaml}): YAML with comments, or JSON.
 *
 * <pre>{@code
 * # Deep Compression (Han et al. 2016)
 * steps:
 *   - prune: {sparsity: 0.92, scope: global}
 *   - finetune: {epochs: 16}
 *   - quantize: {scheme: kmeans, bits: 6}
 *   - finetune: {epochs: 4}
 * }</pre>
 *
 * Each step is a technique name, alone (its defaults) or mapped to its parameters; a list value is written as the
 * comma-separated text the parameter takes. {@code pipeline: "prune(sparsity=0.5) | quantize(bits=8)"} is accepted
 * instead of {@code steps}, as on the command line. The steps are the same {@link PipelineStep}s the command line's
 * {@code --pipeline} gives, so the server validates them the same way.
 */
final class Recipe {
    /** Recipes are a few lines; a larger file is not one (and is not parsed). */
    private static final long MAX_BYTES = 1 << 20;

    private Recipe() {
    }

    static List<PipelineStep> read(Path file) {
        requireNonNull(file, "file is null");
        try {
            if (Files.size(file) > MAX_BYTES) {
                throw invalid(file, "it holds " + Files.size(file) + " bytes; a recipe is at most " + MAX_BYTES + " bytes");
            }
            try (Reader reader = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
                LoaderOptions options = new LoaderOptions();
                options.setAllowDuplicateKeys(false);
                options.setMaxAliasesForCollections(10);
                Object document = new Yaml(new SafeConstructor(options)).load(reader);
                return steps(file, document);
            }
        } catch (YAMLException e) {
            throw invalid(file, "it is not valid YAML or JSON: " + e.getMessage().lines().collect(Collectors.joining(" ")));
        } catch (IOException e) {
            throw new CondenseException(ErrorCode.INVALID_PIPELINE, "cannot read the recipe " + file + ": " + e.getMessage(), e);
        }
    }

    private static List<PipelineStep> steps(Path file, Object document) {
        if (!(document instanceof Map<?, ?> root)) {
            throw invalid(file, "expected a mapping with 'steps' (a list of techniques) at the top, got " + describe(document));
        }
        for (Object key : root.keySet()) {
            if (!"steps".equals(key) && !"pipeline".equals(key) && !"description".equals(key)) {
                throw invalid(file, "unknown top-level key '" + key + "'; a recipe has 'steps' (or 'pipeline') and an optional 'description'");
            }
        }
        if (root.containsKey("steps") == root.containsKey("pipeline")) {
            throw invalid(file, "give exactly one of 'steps' (a list of techniques) and 'pipeline' (the --pipeline text)");
        }
        if (root.get("pipeline") instanceof String pipeline) {
            return PipelineParser.parse(pipeline);
        }
        if (root.containsKey("pipeline")) {
            throw invalid(file, "'pipeline' must be text such as \"prune(sparsity=0.5) | quantize(bits=8)\", got " + describe(root.get("pipeline")));
        }
        if (!(root.get("steps") instanceof List<?> list) || list.isEmpty()) {
            throw invalid(file, "'steps' must be a non-empty list, for example\nsteps:\n  - prune: {sparsity: 0.5}\n  - quantize: {bits: 8}");
        }
        List<PipelineStep> steps = new ArrayList<>(list.size());
        for (int index = 0; index < list.size(); index++) {
            steps.add(step(file, index + 1, list.get(index)));
        }
        return steps;
    }

    private static PipelineStep step(Path file, int number, Object entry) {
        if (entry instanceof String technique && !technique.isBlank()) {
            return PipelineStep.newBuilder().setTechnique(technique.trim()).build();
        }
        if (!(entry instanceof Map<?, ?> map) || map.size() != 1 || !(map.keySet().iterator().next() instanceof String technique)) {
            throw invalid(file, "step " + number + " must be a technique name, or one technique name mapped to its parameters "
                    + "(- prune: {sparsity: 0.5}), got " + describe(entry));
        }
        PipelineStep.Builder step = PipelineStep.newBuilder().setTechnique(technique.trim());
        Object parameters = map.values().iterator().next();
        if (parameters == null) {
            return step.build();
        }
        if (!(parameters instanceof Map<?, ?> values)) {
            throw invalid(file, "the parameters of step " + number + " (" + technique + ") must be a mapping such as {sparsity: 0.5}, got "
                    + describe(parameters));
        }
        for (Map.Entry<?, ?> value : values.entrySet()) {
            if (!(value.getKey() instanceof String name)) {
                throw invalid(file, "step " + number + " (" + technique + ") has a parameter name that is not text: " + value.getKey());
            }
            step.putParameters(name, text(file, number, technique, name, value.getValue()));
        }
        return step.build();
    }

    private static String text(Path file, int number, String technique, String name, Object value) {
        if (value instanceof List<?> items) {
            List<String> texts = new ArrayList<>(items.size());
            for (Object item : items) {
                if (item instanceof Map<?, ?> || item instanceof List<?> || item == null) {
                    throw invalid(file, "parameter '" + name + "' of step " + number + " (" + technique + ") lists " + describe(item)
                            + "; list entries must be plain values");
                }
                texts.add(item.toString());
            }
            return String.join(",", texts);
        }
        if (value instanceof Map<?, ?> || value == null) {
            throw invalid(file, "parameter '" + name + "' of step " + number + " (" + technique + ") must be a plain value or a list, got "
                    + describe(value));
        }
        return value.toString();
    }

    private static String describe(Object value) {
        if (value == null) {
            return "nothing";
        }
        if (value instanceof Map<?, ?>) {
            return "a mapping";
        }
        if (value instanceof List<?>) {
            return "a list";
        }
        return "'" + value + "'";
    }

    private static CondenseException invalid(Path file, String why) {
        return new CondenseException(ErrorCode.INVALID_PIPELINE, "the recipe " + file + " is not usable: " + why);
    }
}
