package io.condense.server.report;

import io.condense.proto.v1.StepResult;
import io.condense.sdk.eval.EvaluationResult;
import io.condense.sdk.stats.ModelStats;
import io.condense.sdk.technique.Report;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The report of a completed job: sizes, parameter counts and MACs before and after, every step with its
 * parameters, duration and the technique's own report, and what the evaluation measured.
 */
public final class JobReport {
    private JobReport() {
    }

    public static Report build(ModelStats original, ModelStats compressed, List<StepResult> steps, Map<String, Object> evaluation) {
        return build(original, compressed, steps, evaluation, java.util.OptionalLong.empty());
    }

    /**
     * {@code packedBytes}: the result is a packed file (.cpk) of that size; {@code compressed_bytes} and {@code ratio} are
     * then the packed file's, and {@code decoded_bytes} the size of the ONNX model it decodes to (the model measured).
     */
    public static Report build(ModelStats original, ModelStats compressed, List<StepResult> steps, Map<String, Object> evaluation,
            java.util.OptionalLong packedBytes) {
        long compressedBytes = packedBytes.orElse(compressed.serializedBytes());
        Report.Builder report = Report.builder()
                .put("original_bytes", original.serializedBytes())
                .put("compressed_bytes", compressedBytes)
                .put("ratio", compressedBytes == 0 ? 0.0 : (double) original.serializedBytes() / compressedBytes);
        if (packedBytes.isPresent()) {
            report.put("format", "cpk").put("decoded_bytes", compressed.serializedBytes());
        }
        report
                .put("original_params", original.parameters())
                .put("params", compressed.parameters())
                .put("original_nonzero_params", original.nonZeroParameters())
                .put("nonzero_params", compressed.nonZeroParameters())
                .put("original_macs", original.macs())
                .put("macs", compressed.macs());
        report.put("steps", steps.stream().map(JobReport::step).toList());
        report.put("evaluation", evaluation);
        return report.build();
    }

    public static Map<String, Object> evaluation(EvaluationResult result, String data) {
        Map<String, Object> evaluation = new LinkedHashMap<>();
        evaluation.put("data", data);
        evaluation.putAll(result.toMap());
        return evaluation;
    }

    private static Map<String, Object> step(StepResult step) {
        Map<String, Object> map = new LinkedHashMap<>();
        map.put("step", step.getStep());
        map.put("technique", step.getTechnique());
        map.put("plugin_version", step.getPluginVersion());
        map.put("params", new LinkedHashMap<>(step.getParametersMap()));
        map.put("duration_ms", step.getDurationMs());
        map.put("bytes_in", step.getBytesIn());
        map.put("bytes_out", step.getBytesOut());
        map.put("report", Structs.toMap(step.getReport()));
        return map;
    }
}
