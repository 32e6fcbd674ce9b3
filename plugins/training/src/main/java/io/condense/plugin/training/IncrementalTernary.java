package io.condense.plugin.training;

import ai.onnx.proto.OnnxMl.NodeProto;
import io.condense.sdk.context.StepContext;
import io.condense.sdk.data.Dataset;
import io.condense.sdk.data.NdArray;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.model.ModelEditor;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.quantization.IncrementalPowerOfTwo;
import io.condense.sdk.technique.ParameterProblem;
import io.condense.sdk.technique.Parameters;
import io.condense.sdk.tensor.DataType;
import io.condense.sdk.tensor.Tensor;
import io.condense.sdk.training.Trainer;
import io.condense.sdk.training.TrainingListener;
import io.condense.sdk.training.TrainingParameters;
import io.condense.sdk.training.TrainingRequest;
import io.condense.sdk.training.TrainingResult;
import io.condense.sdk.training.TrainingSteps;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * Incremental ternarization of TTQ layers ({@code finetune(ttq_incremental=0.5,0.75,0.875,1)}): INQ's schedule (Zhou et
 * al. 2017, as {@link IncrementalFinetune} runs it for powers of two) applied to TTQ. Before each share but the last, that
 * share of each TTQ layer's weights, largest |latent| first, is ternary (+Wp, 0 or -Wn by the layer's threshold, their
 * latents frozen by gradient masks, the scales trained), the rest are float weights (the latent times the layer's largest
 * float magnitude) that retrain; the largest of them join the ternary share at the next phase. The last share (1) is
 * plain TTQ: finetune's own training of every latent with its masks re-drawn every step. Every phase trains its share of
 * the epochs with a fresh schedule from {@code lr}, at least one each.
 *
 * <p>Between phases the model stays in {@code ternarize(method=ttq)}'s form: the levels and trained scales, and the float
 * weights (the trained latent times that magnitude) kept as the layer's {@code _ttq_latent} initializer, from which the
 * next phase, and finetune's final TTQ phase, start.
 */
final class IncrementalTernary {
    static final String PARAMETER = "ttq_incremental";

    /** The model after the phases before the last, the epochs left for the last, and each phase's report. */
    record Prepared(OnnxModel model, int lastEpochs, long lastSeed, List<Map<String, Object>> stages) {
    }

    private IncrementalTernary() {
    }

    /** The shares of {@code ttq_incremental} ("0.5,0.75,0.875,1"; blank: none); a problem added for text that is wrong. */
    static List<Double> shares(Parameters parameters, List<ParameterProblem> problems) {
        String text = parameters.getString(PARAMETER).trim();
        java.util.Optional<List<Double>> parsed = IncrementalPowerOfTwo.parseShares(text);
        if (parsed.isEmpty()) {
            problems.add(new ParameterProblem(PARAMETER, text, "must be shares separated by commas, such as 0.5,0.75,0.875,1 "
                    + "(INQ's schedule)"));
            return List.of();
        }
        List<Double> shares = parsed.get();
        if (shares.isEmpty()) {
            return List.of();
        }
        IncrementalPowerOfTwo.scheduleProblem(shares).ifPresent(problem -> problems.add(new ParameterProblem(PARAMETER, text,
                problem.replace("INQ shares", "shares") + "; INQ's schedule is 0.5,0.75,0.875,1")));
        if (shares.size() < 2 && problems.stream().noneMatch(problem -> problem.parameter().equals(PARAMETER))) {
            problems.add(new ParameterProblem(PARAMETER, text, "needs at least one share below 1 before the final 1 (plain TTQ); "
                    + "use 0.5,0.75,0.875,1, or leave it blank"));
        }
        return shares;
    }

    /** The epochs of phase {@code phase} of {@code phases} out of {@code epochs}: an even spread, at least one. */
    static int phaseEpochs(int epochs, int phase, int phases) {
        return Math.max(1, epochs * (phase + 1) / phases - epochs * phase / phases);
    }

    /**
     * Runs the phases before the last share on {@code dense} (a model with TTQ layers, which the caller has checked,
     * carrying their float weights) and returns the model to train as plain TTQ for the rest.
     */
    static Prepared run(OnnxModel dense, List<Double> shares, TrainedTernaryLayers.Rule rule, TrainingParameters.Settings settings, Dataset training,
            Dataset validation, boolean keepZeros, Trainer trainer, StepContext context) {
        int phases = shares.size();
        OnnxModel current = dense;
        Map<String, boolean[]> fixedByLayer = new LinkedHashMap<>();
        List<Map<String, Object>> stages = new ArrayList<>();
        for (int phase = 0; phase < phases - 1; phase++) {
            context.checkCancelled();
            double share = shares.get(phase);
            TrainingGraph graph = TrainingGraph.of(current, rule, false);
            OnnxModel trainingModel = graph.model();
            ModelEditor editor = trainingModel.edit();
            Set<String> trainable = new TreeSet<>(graph.trainable().orElseGet(() -> TrainingGraph.defaultTrainable(trainingModel)));
            Map<String, NdArray> masks = new LinkedHashMap<>();
            Map<String, Float> magnitudes = new LinkedHashMap<>();
            long fixedCount = 0;
            long elements = 0;
            for (TrainedTernaryLayers.Layer layer : graph.ternaryLayers()) {
                TrainedTernaryLayers.Found found = layer.found();
                if (found.carriedLatent().isEmpty()) {
                    throw new CondenseException(ErrorCode.UNSUPPORTED_MODEL, PARAMETER + " starts from the float weights that "
                            + "ternarize(method=ttq) keeps in the file, and TTQ layer '" + found.positiveLevels() + "' has none; "
                            + "ternarize the float model with ttq_latents=true (the default) right before finetune, or drop " + PARAMETER);
                }
                float magnitude = largestMagnitude(current.tensor(found.carriedLatent()).toFloatArray());
                magnitudes.put(found.positiveLevels(), magnitude);
                float[] latent = trainingModel.tensor(layer.latent()).toFloatArray();
                boolean[] fixed = fixedByLayer.computeIfAbsent(found.positiveLevels(), name -> new boolean[latent.length]);
                fixLargest(latent, fixed, share);
                float[] fixedMask = new float[latent.length];
                float[] freeScale = new float[latent.length];
                float[] gradientMask = new float[latent.length];
                for (int i = 0; i < latent.length; i++) {
                    fixedMask[i] = fixed[i] ? 1f : 0f;
                    freeScale[i] = fixed[i] ? 0f : magnitude;
                    gradientMask[i] = fixed[i] ? 0f : 1f;
                    fixedCount += fixed[i] ? 1 : 0;
                }
                elements += latent.length;
                // value = TrainedTernary(latent) x fixed + latent x magnitude x (1 - fixed)
                String ternaryValue = found.output();
                String fixedName = editor.uniqueName(found.positiveLevels() + "_fixed");
                String freeName = editor.uniqueName(found.positiveLevels() + "_free_scale");
                String fixedPart = editor.uniqueName(found.positiveLevels() + "_fixed_part");
                String freePart = editor.uniqueName(found.positiveLevels() + "_free_part");
                String combined = editor.uniqueName(found.positiveLevels() + "_incremental");
                editor.putInitializer(Tensor.fromFloats(fixedName, DataType.FLOAT, found.shape(), fixedMask).toProto());
                editor.putInitializer(Tensor.fromFloats(freeName, DataType.FLOAT, found.shape(), freeScale).toProto());
                editor.replaceInput(ternaryValue, combined);
                editor.addNode(node("Mul", editor.uniqueName(fixedPart + "_Mul"), List.of(ternaryValue, fixedName), fixedPart));
                editor.addNode(node("Mul", editor.uniqueName(freePart + "_Mul"), List.of(layer.latent(), freeName), freePart));
                editor.addNode(node("Add", editor.uniqueName(combined + "_Add"), List.of(fixedPart, freePart), combined));
                masks.put(layer.latent(), NdArray.ofFloats(found.shape(), gradientMask));
                trainable.remove(fixedName);
                trainable.remove(freeName);
            }
            int epochs = phaseEpochs(settings.epochs(), phase, phases);
            TrainingRequest.Builder request = settings.withEpochs(epochs).request(editor.build(), training).seed(settings.seed() + phase)
                    .trainable(trainable).freezeZeros(false)
                    .listener(TrainingListener.reportingTo(context)).cancelled(context::isCancelled);
            if (validation != null) {
                request.validationData(validation);
            }
            masks.forEach(request::gradientMask);
            if (keepZeros) {
                // the other zeros (pruned biases, float layers) stay frozen, as in finetune's own TTQ training
                FinetuneTechnique.zeroMasks(trainingModel, trainable, graph.zerosRedrawn()).forEach(request::gradientMask);
            }
            TrainingResult result = TrainingSteps.train(trainer, request.build(),
                    "incremental TTQ phase " + (phase + 1) + " of " + phases + " (" + share + " ternary)");
            OnnxModel trained = result.model();
            ModelEditor next = graph.writeBack(trained).model().edit();
            for (TrainedTernaryLayers.Layer layer : graph.ternaryLayers()) {
                TrainedTernaryLayers.Found found = layer.found();
                float[] latent = trained.tensor(layer.latent()).toFloatArray();
                float magnitude = magnitudes.get(found.positiveLevels());
                float[] weights = new float[latent.length];
                for (int i = 0; i < latent.length; i++) {
                    weights[i] = latent[i] * magnitude;
                }
                next.putUnreadInitializer(Tensor.fromFloats(found.carriedLatent(), DataType.FLOAT, found.shape(), weights).toProto());
            }
            current = next.build();
            Map<String, Object> stage = new LinkedHashMap<>();
            stage.put("share_ternary", share);
            stage.put("epochs", epochs);
            stage.put("ternary_fixed", fixedCount);
            stage.put("elements", elements);
            stage.put("history", TrainingSteps.history(result));
            stages.add(stage);
        }
        return new Prepared(current, phaseEpochs(settings.epochs(), phases - 1, phases), settings.seed() + phases - 1, stages);
    }

    /** Marks the largest |latent| of the elements not yet fixed until {@code share} of them all are fixed. */
    static void fixLargest(float[] latent, boolean[] fixed, double share) {
        int want = (int) Math.round(share * latent.length);
        int have = 0;
        for (boolean f : fixed) {
            have += f ? 1 : 0;
        }
        if (want <= have) {
            return;
        }
        Integer[] free = new Integer[latent.length - have];
        int n = 0;
        for (int i = 0; i < latent.length; i++) {
            if (!fixed[i]) {
                free[n++] = i;
            }
        }
        java.util.Arrays.sort(free, (a, b) -> Float.compare(Math.abs(latent[b]), Math.abs(latent[a])));
        for (int k = 0; k < want - have; k++) {
            fixed[free[k]] = true;
        }
    }

    private static float largestMagnitude(float[] values) {
        float largest = 0f;
        for (float value : values) {
            largest = Math.max(largest, Math.abs(value));
        }
        return largest;
    }

    private static NodeProto node(String op, String name, List<String> inputs, String output) {
        return NodeProto.newBuilder().setOpType(op).setName(name).addAllInput(inputs).addOutput(output).build();
    }
}
