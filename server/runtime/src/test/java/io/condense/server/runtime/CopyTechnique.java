package io.condense.server.runtime;

import io.condense.sdk.context.StepContext;
import io.condense.sdk.model.InitializerInfo;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.technique.ParameterSpec;
import io.condense.sdk.technique.Parameters;
import io.condense.sdk.technique.Range;
import io.condense.sdk.technique.Report;
import io.condense.sdk.technique.Technique;
import io.condense.sdk.technique.TechniqueDescriptor;
import io.condense.sdk.technique.TechniqueResult;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** A technique that changes nothing but behaves as every technique must: the compatibility kit's control case. */
class CopyTechnique implements Technique {
    static final TechniqueDescriptor DESCRIPTOR = new TechniqueDescriptor("copy", "1.0.0", "Returns the model unchanged",
            "testing", List.of(
                    ParameterSpec.doubleParameter("fraction", 0.5, Range.closedOpen(0, 1), "a fraction that is only reported"),
                    ParameterSpec.integerParameter("level", 1, Range.closed(0, 3), "a level that is only reported"),
                    ParameterSpec.choiceParameter("mode", "fast", List.of("fast", "exact"), "a mode that is only reported"),
                    ParameterSpec.booleanParameter("verbose", false, "a switch that is only reported"),
                    ParameterSpec.stringListParameter("skip", "", "names that are only reported")));

    @Override
    public TechniqueDescriptor descriptor() {
        return DESCRIPTOR;
    }

    @Override
    public TechniqueResult apply(OnnxModel model, Parameters parameters, StepContext context) {
        Report.Builder report = Report.builder()
                .put("fraction", parameters.getDouble("fraction"))
                .put("mode", parameters.getString("mode"));
        List<InitializerInfo> initializers = model.initializers();
        for (int i = 0; i < initializers.size(); i++) {
            context.checkCancelled();
            InitializerInfo initializer = initializers.get(i);
            Map<String, Object> layer = new LinkedHashMap<>();
            layer.put("name", initializer.name());
            layer.put("bytes", initializer.bytes());
            report.addLayer(layer);
            context.progress((i + 1.0) / initializers.size(), "initializer " + (i + 1) + " of " + initializers.size());
        }
        return new TechniqueResult(OnnxModel.of(model.proto()), report.put("initializers", initializers.size()).build());
    }
}
