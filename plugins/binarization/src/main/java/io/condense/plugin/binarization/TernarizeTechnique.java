package io.condense.plugin.binarization;

import io.condense.sdk.context.StepContext;
import io.condense.sdk.model.LayerSelection;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.technique.ParameterProblem;
import io.condense.sdk.technique.ParameterSpec;
import io.condense.sdk.technique.Parameters;
import io.condense.sdk.technique.Range;
import io.condense.sdk.technique.Technique;
import io.condense.sdk.technique.TechniqueDescriptor;
import io.condense.sdk.technique.TechniqueResult;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.pf4j.Extension;

/**
 * Ternary weights (TWN) with per-output-channel scales, written in QDQ form: int8 levels in {-1, 0, +1}, a
 * float scale per channel, DequantizeLinear. Per channel, weights with {@code |W| <= threshold * mean |W|}
 * become 0, the others {@code sign(W)}, and the scale is the mean magnitude of the kept weights. With
 * {@code activations=8} (W2-A8) the activations of the changed layers become static int8/uint8 too. With
 * {@code method=ttq} (TTQ) each layer gets a positive and a negative scale instead, written as two summed bases,
 * for {@code finetune} to train.
 */
@Extension
public final class TernarizeTechnique implements Technique {
    public static final String ID = "ternarize";
    static final String METHOD = "method";
    static final String THRESHOLD = "threshold";
    static final String TTQ_THRESHOLD = "ttq_threshold";
    static final String TTQ_LATENTS = "ttq_latents";
    static final String TTQ_SCALES = "ttq_scales";
    static final String LAYER = "layer";
    static final String CHANNEL = "channel";
    static final String TWN = "twn";
    static final String TTQ = "ttq";

    private static final TechniqueDescriptor DESCRIPTOR;

    static {
        List<ParameterSpec> parameters = new ArrayList<>();
        parameters.add(ParameterSpec.choiceParameter(METHOD, TWN, List.of(TWN, TTQ),
                "twn: Ternary Weight Networks, threshold delta = threshold * mean |W| and alpha = mean of the kept magnitudes, "
                        + "per output channel. ttq: Trained Ternary Quantization, per layer: delta = ttq_threshold * max |W|, a "
                        + "positive and a negative scale (written as two bases, {0, +1} and {-1, 0}, summed); finetune trains both "
                        + "scales and the latent weights behind them."));
        parameters.add(ParameterSpec.doubleParameter(THRESHOLD, 0.7, Range.closedOpen(0, 1),
                "method=twn: weights with |W| <= threshold * mean |W| of their channel become 0 (0.7 in the TWN paper; "
                        + "below 1 every channel keeps at least one weight)."));
        parameters.add(ParameterSpec.doubleParameter(TTQ_THRESHOLD, 0.05, Range.closedOpen(0, 1),
                "method=ttq: weights with |W| <= ttq_threshold * max |W| of their layer become 0 (0.05 in the TTQ paper)."));
        parameters.add(ParameterSpec.booleanParameter(TTQ_LATENTS, true,
                "method=ttq: keep each layer's float weight in the file (read by no node) so that a following finetune starts its "
                        + "latent weights from the float weights, as TTQ trains, instead of from the ternary levels; finetune removes "
                        + "them. false: the file holds only the levels and scales."));
        parameters.add(ParameterSpec.choiceParameter(TTQ_SCALES, LAYER, List.of(LAYER, CHANNEL),
                "method=ttq: layer: one positive and one negative scale per layer (the paper); channel: one pair per output channel "
                        + "(the threshold stays the layer's)."));
        parameters.addAll(LowBitCompression.SELECTION_PARAMETERS);
        parameters.addAll(LowBitCompression.ACTIVATION_PARAMETERS);
        DESCRIPTOR = new TechniqueDescriptor(ID, "0.1.0",
                "Ternary weights with per-channel scales (TWN) of Conv, Gemm and MatMul layers, written as int8 {-1, 0, +1} + scale "
                        + "through DequantizeLinear",
                "binarization", parameters);
    }

    @Override
    public TechniqueDescriptor descriptor() {
        return DESCRIPTOR;
    }

    @Override
    public List<ParameterProblem> validate(Parameters parameters) {
        List<ParameterProblem> problems = new ArrayList<>();
        LowBitCompression.checkActivationParameters(parameters, problems);
        String method = parameters.getString(METHOD);
        for (String option : List.of(TTQ_LATENTS, TTQ_SCALES)) {
            if (!method.equals(TTQ) && parameters.isExplicit(option)) {
                problems.add(new ParameterProblem(option, parameters.getString(option), "applies to method=ttq only, and method is "
                        + method + ": set method=ttq, or drop " + option));
            }
        }
        String foreign = method.equals(TTQ) ? THRESHOLD : TTQ_THRESHOLD;
        if (parameters.isExplicit(foreign)) {
            problems.add(new ParameterProblem(foreign, parameters.getString(foreign), "applies to method="
                    + (method.equals(TTQ) ? TWN : TTQ) + " only, and method is " + method + ": use "
                    + (method.equals(TTQ) ? TTQ_THRESHOLD : THRESHOLD) + " for " + method + ", or drop " + foreign));
        }
        return problems;
    }

    @Override
    public TechniqueResult apply(OnnxModel model, Parameters parameters, StepContext context) {
        return TechniqueResult.withHalfPrecisionWidened(model, widened -> compress(widened, parameters, context));
    }

    private TechniqueResult compress(OnnxModel model, Parameters parameters, StepContext context) {
        List<ParameterProblem> problems = new ArrayList<>(validate(parameters));
        LayerSelection selection = LowBitCompression.selection(parameters, problems);
        Optional<LowBitCompression.ActivationSettings> activations = LowBitCompression.activationSettings(ID, parameters, context);
        LowBitCompression.Method method;
        if (parameters.getString(METHOD).equals(TTQ)) {
            double threshold = parameters.getDouble(TTQ_THRESHOLD);
            boolean perChannel = parameters.getString(TTQ_SCALES).equals(CHANNEL);
            method = new LowBitCompression.Method(TTQ, 2, "ternary",
                    (weights, layout) -> LowBitApproximations.trainedTernaryWeights(weights, layout, threshold, perChannel),
                    Map.of(TTQ_THRESHOLD, threshold, TTQ_SCALES, parameters.getString(TTQ_SCALES)), !perChannel,
                    parameters.getBoolean(TTQ_LATENTS));
        } else {
            double threshold = parameters.getDouble(THRESHOLD);
            method = new LowBitCompression.Method(TWN, 2, "ternary",
                    (weights, layout) -> LowBitApproximations.ternaryWeights(weights, layout, threshold), Map.of(THRESHOLD, threshold));
        }
        return LowBitCompression.run(ID, method, selection, parameters.getBoolean(LowBitCompression.KEEP_FIRST_LAST), activations,
                LowBitCompression.binaryActivationData(ID, parameters, context), model, context);
    }
}
