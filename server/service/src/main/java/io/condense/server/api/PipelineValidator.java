package io.condense.server.api;

import static java.util.Objects.requireNonNull;

import io.condense.proto.v1.PipelineStep;
import io.condense.proto.v1.ResolvedStep;
import io.condense.proto.v1.ValidateResponse;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.technique.InvalidParametersException;
import io.condense.sdk.technique.ParameterProblem;
import io.condense.server.plugin.LoadedTechnique;
import io.condense.server.plugin.PipelineStage;
import io.condense.server.plugin.PluginHost;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Checks a whole pipeline against the loaded techniques before anything is queued and reports every
 * problem of every step in one error: unknown techniques (naming the known ones) and every bad parameter.
 */
public final class PipelineValidator {
    public static final int MAX_STEPS = 64;

    private final PluginHost plugins;

    public PipelineValidator(PluginHost plugins) {
        this.plugins = requireNonNull(plugins, "plugins is null");
    }

    /** Checks the pipeline; see {@link #resolve}. */
    public void validate(List<PipelineStep> steps) {
        resolve(steps);
    }

    /**
     * The pipeline as typed stages: every step's technique found and its parameters checked against the specs, their
     * value checks and the technique's rules across parameters ({@code Technique.validate}).
     *
     * @throws CondenseException INVALID_PIPELINE for an empty or too long pipeline; UNKNOWN_TECHNIQUE or INVALID_PARAMETER
     *     listing every problem of every step, each with its step number and technique
     */
    public List<PipelineStage> resolve(List<PipelineStep> steps) {
        if (steps.isEmpty()) {
            throw new CondenseException(ErrorCode.INVALID_PIPELINE, "the pipeline has no steps; give at least one, for example prune(sparsity=0.5)");
        }
        if (steps.size() > MAX_STEPS) {
            throw new CondenseException(ErrorCode.INVALID_PIPELINE, "the pipeline has " + steps.size() + " steps; at most " + MAX_STEPS + " are allowed");
        }
        List<String> unknown = new ArrayList<>();
        List<String> problems = new ArrayList<>();
        List<PipelineStage> stages = new ArrayList<>(steps.size());
        boolean misplacedTerminal = false;
        for (int index = 0; index < steps.size(); index++) {
            PipelineStep step = steps.get(index);
            int stepNumber = index + 1;
            Optional<LoadedTechnique> technique = plugins.technique(step.getTechnique());
            if (technique.isEmpty()) {
                unknown.add("Unknown technique '" + step.getTechnique() + "' in step " + stepNumber);
                continue;
            }
            if (technique.get().descriptor().terminal() && index < steps.size() - 1) {
                misplacedTerminal = true;
                problems.add("Step " + stepNumber + " (" + step.getTechnique() + ") writes a packed file, not an ONNX model, so it must be "
                        + "the last step; move step " + (stepNumber + 1) + " (" + steps.get(index + 1).getTechnique() + ") before it");
            }
            try {
                stages.add(new PipelineStage(stepNumber, technique.get(), technique.get().resolve(step.getParametersMap())));
            } catch (InvalidParametersException e) {
                for (ParameterProblem problem : e.problems()) {
                    problems.add(problem.message(stepNumber, step.getTechnique()));
                }
            }
        }
        if (unknown.isEmpty() && problems.isEmpty()) {
            return List.copyOf(stages);
        }
        List<String> all = new ArrayList<>(unknown);
        if (!unknown.isEmpty()) {
            all.set(all.size() - 1, all.get(all.size() - 1) + " (known techniques: " + knownTechniques() + ")");
        }
        all.addAll(problems);
        throw new CondenseException(!unknown.isEmpty() ? ErrorCode.UNKNOWN_TECHNIQUE
                : misplacedTerminal ? ErrorCode.INVALID_PIPELINE : ErrorCode.INVALID_PARAMETER, String.join("; ", all));
    }

    /** The stages as the Validate RPC answers them: every parameter's value, and which ones the pipeline gave. */
    public static ValidateResponse describe(List<PipelineStage> stages) {
        ValidateResponse.Builder response = ValidateResponse.newBuilder();
        for (PipelineStage stage : stages) {
            ResolvedStep.Builder step = ResolvedStep.newBuilder()
                    .setStep(stage.number())
                    .setTechnique(stage.technique().id())
                    .setPluginId(stage.technique().pluginId())
                    .setPluginVersion(stage.technique().pluginVersion())
                    .putAllParameters(stage.technique().effectiveParameters(stage.parameters()));
            for (String name : stage.parameters().asMap().keySet()) {
                if (stage.parameters().isExplicit(name)) {
                    step.addExplicitParameters(name);
                }
            }
            response.addSteps(step);
        }
        return response.build();
    }

    private String knownTechniques() {
        return plugins.techniques().isEmpty() ? "none are loaded; check the plugins folder " + plugins.pluginsFolder()
                : String.join(", ", plugins.techniques().keySet());
    }
}
