package org.example.slow;

import io.condense.sdk.context.StepContext;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.technique.ParameterSpec;
import io.condense.sdk.technique.Parameters;
import io.condense.sdk.technique.Range;
import io.condense.sdk.technique.Report;
import io.condense.sdk.technique.Technique;
import io.condense.sdk.technique.TechniqueDescriptor;
import io.condense.sdk.technique.TechniqueResult;
import java.util.List;
import org.pf4j.Extension;

/** Takes its time, reporting progress and checking for cancellation; returns the model unchanged. */
@Extension
public final class SlowTechnique implements Technique {
    @Override
    public TechniqueDescriptor descriptor() {
        return new TechniqueDescriptor("slow", "1.0.0", "Waits, reporting progress; for tests", "testing",
                List.of(ParameterSpec.doubleParameter("seconds", 5.0, Range.closed(0, 600), "how long to take")));
    }

    @Override
    public TechniqueResult apply(OnnxModel model, Parameters parameters, StepContext context) {
        long total = (long) (parameters.getDouble("seconds") * 1000);
        long started = System.currentTimeMillis();
        boolean pluginLoader = Thread.currentThread().getContextClassLoader() == getClass().getClassLoader();
        while (true) {
            long elapsed = System.currentTimeMillis() - started;
            if (elapsed >= total) {
                break;
            }
            context.checkCancelled();
            context.meterRegistry().counter("test.slow.ticks").increment();
            context.progress((double) elapsed / total, "waited " + elapsed + " of " + total + " ms");
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted", e);
            }
        }
        context.progress(1.0, "done");
        return new TechniqueResult(model, Report.builder()
                .put("slept_ms", total)
                .put("context_class_loader_is_plugin", pluginLoader)
                .build());
    }
}
