package io.condense.plugin.quantization;

import static java.util.Objects.requireNonNull;

import io.condense.sdk.context.StepContext;
import io.condense.sdk.data.Dataset;
import io.condense.sdk.model.ModelEditor;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.model.WeightLayer;
import io.condense.sdk.quantization.CalibrationMethod;
import io.condense.sdk.quantization.StaticActivations;
import io.condense.sdk.technique.Report;
import java.util.List;
import java.util.Map;

/**
 * Static int8/uint8 activations on a graph whose weights are already written in QDQ form, shared by the 8-bit path of
 * {@link QuantizeTechnique} and by {@link LowBitQuantization} (W4A8): calibrates and inserts the activation pairs
 * ({@link StaticActivations}), builds the model, and writes the activation entries of the report. Its output SQNR against
 * the float reference is measured afterwards by the caller, on at most {@code sqnr_samples} samples.
 *
 * @param model the quantized model, activation pairs included
 * @param outcome pairs added, samples read, output SQNR
 * @param settings the calibration settings used
 * @param sqnrSamples the calibration samples the output SQNR was measured on (0 before)
 */
record ActivationStep(OnnxModel model, StaticActivations.Outcome outcome, StaticActivations.Settings settings, int sqnrSamples) {
    ActivationStep {
        requireNonNull(model, "model is null");
        requireNonNull(outcome, "outcome is null");
        requireNonNull(settings, "settings is null");
    }


    /**
     * Calibrates {@code source} and edits {@code editor} (its graph, the weights of {@code layers} already rewired to their
     * DequantizeLinear), then builds the result. Its output SQNR is measured afterwards ({@link #withOutputSqnr}), in the same
     * pass as the per-layer errors ({@link LayerRanking#addOutputSqnr}).
     *
     * @param weightScales one per layer: a scale per output channel (or one) that the layer's int32 bias is quantized with
     */
    static ActivationStep apply(OnnxModel source, ModelEditor editor, List<WeightLayer> layers, List<float[]> weightScales,
            List<Map<String, Object>> reports, Dataset data, StaticActivations.Settings settings, StepContext context) {
        StaticActivations.Outcome outcome = StaticActivations.apply(source, editor, layers, weightScales, reports, data, settings, context);
        return new ActivationStep(editor.build(), outcome, settings, 0);
    }

    /** The same step with the output SQNR measured on {@code samples} calibration samples. */
    ActivationStep withOutputSqnr(double sqnrDb, int samples) {
        return new ActivationStep(model, outcome.withOutputSqnr(sqnrDb), settings, samples);
    }

    /** The activation entries of the step's report. */
    void report(Report.Builder report) {
        report.put("activations", true)
                .put("calibration", settings.method().parameterValue())
                .put("symmetric", settings.symmetric())
                .put("activation_type", settings.symmetric() ? "int8" : "uint8")
                .put("calibration_samples", outcome.samples())
                .put("activations_quantized", outcome.activations())
                .put("output_sqnr_db", outcome.outputSqnrDb())
                .put("output_sqnr_samples", sqnrSamples);
        if (settings.method() == CalibrationMethod.PERCENTILE) {
            report.put("percentile", settings.percentile());
        }
    }
}
