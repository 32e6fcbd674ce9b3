package io.condense.sdk.quantization;

import io.condense.sdk.technique.ParameterSpec;
import io.condense.sdk.technique.Parameters;
import io.condense.sdk.technique.Range;
import java.util.List;

/**
 * The calibration parameters every technique that quantizes activations takes (quantize with activations=true,
 * binarize and ternarize with activations=8), declared once so their names, defaults, ranges and meanings stay the
 * same across techniques, as {@link io.condense.sdk.technique.SelectionParameters} does for layer selection.
 */
public final class CalibrationParameters {
    public static final String CALIBRATION = "calibration";
    public static final String SYMMETRIC = "symmetric";
    public static final String PERCENTILE = "percentile";
    public static final String CALIBRATION_SAMPLES = "calibration_samples";
    /** All four names, for techniques that refuse them when activations stay float. */
    public static final List<String> NAMES = List.of(CALIBRATION, PERCENTILE, CALIBRATION_SAMPLES, SYMMETRIC);

    private CalibrationParameters() {
    }

    /**
     * The four specs, in the order calibration, symmetric, percentile, calibration_samples.
     *
     * @param when the condition under which they apply, for the descriptions ("With activations=true")
     * @param samplesAlsoFor other uses of calibration_samples, appended to its description (empty when none)
     */
    public static List<ParameterSpec> specs(String when, String samplesAlsoFor) {
        return List.of(
                ParameterSpec.choiceParameter(CALIBRATION, "minmax", List.of("minmax", "percentile", "entropy", "mse"),
                        when + ": how each activation range is chosen from its histogram: minmax, percentile "
                                + "(see percentile), entropy (Kullback-Leibler, as TensorRT) or mse (least squared error)."),
                ParameterSpec.booleanParameter(SYMMETRIC, false,
                        when + ": int8 activations with zero point 0 (true) or uint8 with a zero point (false)."),
                ParameterSpec.doubleParameter(PERCENTILE, 99.99, Range.open(0, 100),
                        "With calibration=percentile: the percentage of activation values kept inside the range."),
                ParameterSpec.integerParameter(CALIBRATION_SAMPLES, 200, Range.closed(1, 1_000_000),
                        when + samplesAlsoFor + ": how many calibration samples to run (fewer when the data holds fewer)."));
    }

    /** The static activation settings these parameters give. */
    public static StaticActivations.Settings settings(Parameters parameters) {
        return new StaticActivations.Settings(CalibrationMethod.fromParameter(parameters.getString(CALIBRATION)),
                parameters.getBoolean(SYMMETRIC), parameters.getDouble(PERCENTILE), parameters.getInt(CALIBRATION_SAMPLES));
    }
}
