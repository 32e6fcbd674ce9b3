package io.condense.server.cli;

import io.condense.proto.v1.Job;
import io.condense.server.report.Structs;
import java.io.PrintStream;
import java.util.List;
import java.util.Map;

/** The table `condense compress` prints after a completed job, from the job's report. */
final class Summary {
    private Summary() {
    }

    @SuppressWarnings("unchecked")
    static void print(Job job, PrintStream out) {
        Map<String, Object> report = Structs.toMap(job.getReport());
        out.println();
        out.printf("%-16s %14s %14s%n", "", "original", "compressed");
        row(out, "size (bytes)", report.get("original_bytes"), report.get("compressed_bytes"),
                String.format("%.2fx smaller", number(report.get("ratio"))));
        row(out, "parameters", report.get("original_params"), report.get("params"), "");
        row(out, "non-zero params", report.get("original_nonzero_params"), report.get("nonzero_params"), "");
        row(out, "MACs", report.get("original_macs"), report.get("macs"), "");
        out.println();
        out.printf("%-5s %-12s %10s %22s  %s%n", "step", "technique", "time", "bytes in -> out", "parameters");
        for (Object item : (List<Object>) report.getOrDefault("steps", List.of())) {
            Map<String, Object> step = (Map<String, Object>) item;
            out.printf("%-5s %-12s %7s ms %22s  %s%n", step.get("step"), step.get("technique"), step.get("duration_ms"),
                    step.get("bytes_in") + " -> " + step.get("bytes_out"), step.get("params"));
        }
        if ("cpk".equals(report.get("format"))) {
            List<Object> steps = (List<Object>) report.getOrDefault("steps", List.of());
            Map<String, Object> last = steps.isEmpty() ? Map.of() : (Map<String, Object>) ((Map<String, Object>) steps.get(steps.size() - 1))
                    .getOrDefault("report", Map.of());
            out.println();
            out.printf("packed file: %s bytes (decodes to %s ONNX bytes), %.2fx smaller than the encode step's input%s%n",
                    format(report.get("compressed_bytes")), format(report.get("decoded_bytes")), number(last.get("ratio")),
                    last.get("gzip_bytes") == null ? "" : String.format("; gzip -9 of that input: %s bytes (%.2fx)",
                            format(last.get("gzip_bytes")), number(last.get("gzip_ratio"))));
        }
        Object evaluation = report.get("evaluation");
        if (evaluation instanceof Map<?, ?> measured) {
            out.println();
            out.println("evaluation" + (measured.get("data") == null ? "" : " on " + measured.get("data")) + ":");
            for (Map.Entry<?, ?> entry : measured.entrySet()) {
                if (!"data".equals(entry.getKey())) {
                    out.printf("  %-20s %s%n", entry.getKey(), format(entry.getValue()));
                }
            }
        }
    }

    private static void row(PrintStream out, String label, Object before, Object after, String note) {
        out.printf("%-16s %14s %14s  %s%n", label, format(before), format(after), note);
    }

    private static String format(Object value) {
        if (value instanceof Double d) {
            return String.format("%.4f", d);
        }
        return String.valueOf(value);
    }

    private static double number(Object value) {
        return value instanceof Number n ? n.doubleValue() : Double.NaN;
    }
}
