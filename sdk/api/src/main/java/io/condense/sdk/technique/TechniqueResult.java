package io.condense.sdk.technique;

import static java.util.Objects.requireNonNull;

import io.condense.sdk.coding.PackedModel;
import io.condense.sdk.model.HalfPrecisionLayers;
import io.condense.sdk.model.OnnxModel;
import java.util.Optional;
import java.util.function.Function;

/**
 * What a technique returns: the new model and its report. A storage-encoding step (a technique whose
 * descriptor is {@link TechniqueDescriptor#terminal() terminal}) also returns the {@code packed} bytes the host
 * stores as the step's output in place of the model's ONNX bytes; {@code model} is then that file decoded, which
 * the host evaluates.
 */
public record TechniqueResult(OnnxModel model, Report report, Optional<PackedModel> packed) {
    public TechniqueResult {
        requireNonNull(model, "model is null");
        requireNonNull(report, "report is null");
        requireNonNull(packed, "packed is null");
    }

    public TechniqueResult(OnnxModel model, Report report) {
        this(model, report, Optional.empty());
    }

    /**
     * Runs {@code technique} on {@code model} with its float16 and bfloat16 weight layers widened to float32 (see
     * {@link HalfPrecisionLayers}) and narrows what the technique wrote: how a technique written for float32 weights
     * compresses 16-bit models too.
     */
    public static TechniqueResult withHalfPrecisionWidened(OnnxModel model, Function<OnnxModel, TechniqueResult> technique) {
        TechniqueResult result = technique.apply(HalfPrecisionLayers.widen(model));
        return new TechniqueResult(HalfPrecisionLayers.narrow(result.model()), result.report(), result.packed());
    }
}
