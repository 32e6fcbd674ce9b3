package org.example.flaky;

import io.condense.sdk.context.StepContext;
import io.condense.sdk.error.CondenseException;
import io.condense.sdk.error.ErrorCode;
import io.condense.sdk.model.OnnxModel;
import io.condense.sdk.technique.Parameters;
import io.condense.sdk.technique.Report;
import io.condense.sdk.technique.Technique;
import io.condense.sdk.technique.TechniqueDescriptor;
import io.condense.sdk.technique.TechniqueResult;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.pf4j.Extension;

/** Fails with a retriable error twice out of three calls; returns the model unchanged on the third. */
@Extension
public final class FlakyTechnique implements Technique {
    private static final AtomicInteger CALLS = new AtomicInteger();

    @Override
    public TechniqueDescriptor descriptor() {
        return new TechniqueDescriptor("flaky", "1.0.0", "Fails twice with a retriable error, then works; for tests", "testing", List.of());
    }

    @Override
    public TechniqueResult apply(OnnxModel model, Parameters parameters, StepContext context) {
        int call = CALLS.incrementAndGet();
        if (call % 3 != 0) {
            throw new CondenseException(ErrorCode.UNAVAILABLE, "flaky: call " + call + " fails on purpose, try again");
        }
        return new TechniqueResult(model, Report.builder().put("calls", call).build());
    }
}
