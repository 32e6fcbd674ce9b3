package org.example.trainprobe;

import io.condense.sdk.context.StepContext;
import io.condense.sdk.data.Dataset;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.technique.Parameters;
import io.condense.sdk.technique.Report;
import io.condense.sdk.technique.Technique;
import io.condense.sdk.technique.TechniqueDescriptor;
import io.condense.sdk.technique.TechniqueResult;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.pf4j.Extension;

/**
 * Reads the job's training data through StepContext.trainingData() and reports what it got (sample count,
 * input shape, label count and per-class counts); returns the model unchanged. A stand-in for a technique
 * that trains, for tests only.
 */
@Extension
public final class TrainProbeTechnique implements Technique {
    @Override
    public TechniqueDescriptor descriptor() {
        return new TechniqueDescriptor("trainprobe", "1.0.0", "Reports the training data it is given; for tests", "testing", List.of());
    }

    @Override
    public TechniqueResult apply(OnnxModel model, Parameters parameters, StepContext context) {
        Optional<Dataset> training = context.trainingData();
        Report.Builder report = Report.builder().put("training_data", training.isPresent());
        if (training.isPresent()) {
            Dataset data = training.get();
            List<Object> shape = new ArrayList<>();
            for (long dimension : data.inputs().shape()) {
                shape.add(dimension);
            }
            long[] labels = data.labels().orElseThrow(() -> new IllegalStateException("the host offered training data without labels"))
                    .toLongArray();
            long max = 0;
            for (long label : labels) {
                max = Math.max(max, label);
            }
            List<Object> perClass = new ArrayList<>();
            for (int label = 0; label <= max; label++) {
                long count = 0;
                for (long value : labels) {
                    if (value == label) {
                        count++;
                    }
                }
                perClass.add(count);
            }
            report.put("samples", (long) data.size())
                    .put("input_shape", shape)
                    .put("labels", (long) labels.length)
                    .put("label_counts", perClass);
        }
        context.progress(1.0, "inspected the training data");
        return new TechniqueResult(model, report.build());
    }
}
