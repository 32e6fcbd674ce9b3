package io.condense.plugin.binarization;

import io.condense.sdk.context.StepContext;
import io.condense.sdk.data.Dataset;
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
 * Binary weights with per-output-channel scales, written in QDQ form (int8 levels in {-1, +1}, a float scale
 * per channel, DequantizeLinear): {@code method=bwn} is one basis {@code alpha * sign(W)} with
 * {@code alpha = mean |W|} (BWN, the weights of XNOR-Net); {@code method=abc} fits {@code bases} shifted
 * binary bases by least squares (ABC-Net); {@code method=horq} binarizes the residual {@code order} times
 * (HORQ). Several bases are dequantized separately and summed (Sum) before the layer. Activations stay float, or
 * with {@code activations=8} (W1-A8) become static int8/uint8 through QuantizeLinear/DequantizeLinear, calibrated
 * as the quantization family does.
 */
@Extension
public final class BinarizeTechnique implements Technique {
    public static final String ID = "binarize";
    static final String METHOD = "method";
    static final String BASES = "bases";
    static final String ORDER = "order";
    static final long DEFAULT_BASES = 3;
    static final long DEFAULT_ORDER = 2;

    private static final TechniqueDescriptor DESCRIPTOR;

    static {
        List<ParameterSpec> parameters = new ArrayList<>();
        parameters.add(ParameterSpec.choiceParameter(METHOD, "bwn", List.of("bwn", "abc", "horq"),
                "bwn: alpha * sign(W) per output channel with alpha = mean |W| (BWN / XNOR-Net weights, 1 bit); "
                        + "abc: 'bases' binary bases sign(W - mean + u_i std) with least-squares scales (ABC-Net, 'bases' bits); "
                        + "horq: binarize W, then the residual, 'order' times (HORQ, 'order' bits)."));
        parameters.add(ParameterSpec.integerParameter(BASES, DEFAULT_BASES, Range.closed(1, 8),
                "Binary bases per weight for method=abc (the ABC-Net paper uses 1 to 5); given with another method, it is refused."));
        parameters.add(ParameterSpec.integerParameter(ORDER, DEFAULT_ORDER, Range.closed(1, 4),
                "Residual binarizations for method=horq (order 1 is bwn); given with another method, it is refused."));
        parameters.addAll(LowBitCompression.SELECTION_PARAMETERS);
        parameters.addAll(LowBitCompression.ACTIVATION_PARAMETERS);
        DESCRIPTOR = new TechniqueDescriptor(ID, "0.1.0",
                "Binary weights with per-channel scales (BWN/XNOR, ABC-Net bases, HORQ residuals) of Conv, Gemm and MatMul layers, "
                        + "written as int8 {-1, +1} + scale through DequantizeLinear",
                "binarization", parameters);
    }

    @Override
    public TechniqueDescriptor descriptor() {
        return DESCRIPTOR;
    }

    @Override
    public List<ParameterProblem> validate(Parameters parameters) {
        String method = parameters.getString(METHOD);
        List<ParameterProblem> problems = new ArrayList<>();
        if (!method.equals("abc") && parameters.isExplicit(BASES)) {
            problems.add(new ParameterProblem(BASES, parameters.getString(BASES), "applies to method=abc only, and method is " + method));
        }
        if (!method.equals("horq") && parameters.isExplicit(ORDER)) {
            problems.add(new ParameterProblem(ORDER, parameters.getString(ORDER), "applies to method=horq only, and method is " + method));
        }
        LowBitCompression.checkActivationParameters(parameters, problems);
        return problems;
    }

    @Override
    public TechniqueResult apply(OnnxModel model, Parameters parameters, StepContext context) {
        return TechniqueResult.withHalfPrecisionWidened(model, widened -> compress(widened, parameters, context));
    }

    private TechniqueResult compress(OnnxModel model, Parameters parameters, StepContext context) {
        String method = parameters.getString(METHOD);
        int bases = parameters.getInt(BASES);
        int order = parameters.getInt(ORDER);
        List<ParameterProblem> problems = new ArrayList<>(validate(parameters));
        LayerSelection selection = LowBitCompression.selection(parameters, problems);
        Optional<LowBitCompression.ActivationSettings> activations = LowBitCompression.activationSettings(ID, parameters, context);
        LowBitCompression.Method chosen = switch (method) {
            case "bwn" -> new LowBitCompression.Method("bwn", 1, "binary", LowBitApproximations::binaryWeights, Map.of());
            case "abc" -> new LowBitCompression.Method("abc", bases, "binary",
                    (weights, layout) -> LowBitApproximations.multipleBinaryBases(weights, layout, bases), Map.of(BASES, bases));
            case "horq" -> new LowBitCompression.Method("horq", order, "binary",
                    (weights, layout) -> LowBitApproximations.residualBinary(weights, layout, order), Map.of(ORDER, order));
            default -> throw new IllegalStateException("method '" + method + "' passed validation but is not handled");
        };
        Optional<Dataset> binaryActivations = LowBitCompression.binaryActivationData(ID, parameters, context);
        if (binaryActivations.isPresent() && method.equals("bwn")) {
            // W1-A1 trains with finetune: keep the float weights for its latents (TrainingOperators.BINARY_LATENT_SUFFIX)
            chosen = new LowBitCompression.Method(chosen.name(), 1, "binary", chosen.approximator(), chosen.settings(), false, true);
        }
        return LowBitCompression.run(ID, chosen, selection, parameters.getBoolean(LowBitCompression.KEEP_FIRST_LAST), activations,
                binaryActivations, model, context);
    }
}
