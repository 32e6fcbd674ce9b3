package io.condense.sdk.example;

// [START example]
import io.condense.sdk.context.StepContext;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.model.ModelEditor;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.model.WeightLayer;
import io.condense.sdk.tensor.Tensor;
import io.condense.sdk.technique.ParameterSpec;
import io.condense.sdk.technique.Parameters;
import io.condense.sdk.technique.Range;
import io.condense.sdk.technique.Report;
import io.condense.sdk.technique.Technique;
import io.condense.sdk.technique.TechniqueDescriptor;
import io.condense.sdk.technique.TechniqueResult;
import java.util.List;
import java.util.Map;

/** Multiplies every Conv, Gemm and MatMul weight by a factor: a toy technique showing the SDK's moving parts. */
@org.pf4j.Extension
public final class ScaleWeightsTechnique implements Technique {
    private static final TechniqueDescriptor DESCRIPTOR = new TechniqueDescriptor("scale", "1.0.0",
            "Multiplies every weight by a factor", "example",
            List.of(ParameterSpec.doubleParameter("factor", 1.0, Range.open(0, 10), "what every weight is multiplied by")));

    @Override
    public TechniqueDescriptor descriptor() {
        return DESCRIPTOR;
    }

    @Override
    public TechniqueResult apply(OnnxModel model, Parameters parameters, StepContext context) {
        float factor = (float) parameters.getDouble("factor");
        List<WeightLayer> layers = model.weightLayers();
        if (layers.isEmpty()) {
            throw new CondenseException(ErrorCode.NOTHING_TO_COMPRESS, "the model has no Conv, Gemm or MatMul weight to scale");
        }
        ModelEditor editor = model.edit();
        Report.Builder report = Report.builder();
        for (int i = 0; i < layers.size(); i++) {
            context.checkCancelled();
            WeightLayer layer = layers.get(i);
            Tensor weight = model.tensor(layer.weightName());
            float[] values = weight.toFloatArray();
            for (int j = 0; j < values.length; j++) {
                values[j] *= factor;
            }
            editor.putInitializer(Tensor.fromFloats(weight.name(), weight.dataType(), weight.shape(), values).toProto());
            report.addLayer(Map.of("name", layer.displayName(), "weight", weight.name(), "elements", weight.elementCount()));
            context.progress((i + 1.0) / layers.size(), "scaled " + layer.displayName());
        }
        report.put("layers_scaled", layers.size()).put("factor", factor);
        return new TechniqueResult(editor.build(), report.build());
    }
}
// [END example]
