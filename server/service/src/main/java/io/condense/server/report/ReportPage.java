package io.condense.server.report;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * One self-contained HTML page for a job's report, or a search's (the best candidate's report with a {@code search}
 * section): summary before/after, the Pareto front and the table of candidates, per-layer sensitivity curves, the chosen
 * model's per-layer sparsity, bits and rank, and the size after each step. Charts are inline SVG; no script, no network.
 */
public final class ReportPage {
    private static final String STYLE = """
            body{font-family:sans-serif;margin:24px;color:#222;max-width:1200px}
            h1{font-size:22px}h2{font-size:18px;margin-top:28px;border-bottom:1px solid #ddd}
            table{border-collapse:collapse;font-size:13px;margin:8px 0}td,th{border:1px solid #ccc;padding:3px 7px;text-align:right}
            td.text,th.text{text-align:left}tr.best{background:#fff3c4}tr.meets td.state{color:#1a7f37}tr.misses td.state{color:#b42318}
            .chart{background:#fafafa;border:1px solid #e5e5e5;margin:6px 12px 6px 0}.axis{stroke:#444}.tick{font-size:11px;fill:#444}
            .axis-label{font-size:12px;fill:#222}.legend{font-size:11px}.point.other{fill:#9aa5b1}.point.front{fill:#1f77b4}
            .point.best{fill:#e8a317;stroke:#222}.front{stroke:#1f77b4;stroke-width:1.5}.limit{stroke:#b42318;stroke-dasharray:5 4}
            .bar{fill:#4c8bd6}.charts{display:flex;flex-wrap:wrap}.note{color:#555;font-size:13px}
            """;

    private ReportPage() {
    }

    /** The page for a report (as the JSON report holds it). */
    public static String render(Map<String, Object> report) {
        Map<String, Object> search = map(report.get("search"));
        StringBuilder html = new StringBuilder("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>")
                .append(search.isEmpty() ? "Condense job report" : "Condense search report")
                .append("</title><style>").append(STYLE).append("</style></head><body>");
        html.append("<h1>").append(search.isEmpty() ? "Compression report" : "Accuracy-aware search").append("</h1>");
        if (!search.isEmpty()) {
            html.append("<p class=\"note\">").append(Html.escape(search.get("spec"))).append(" &middot; ")
                    .append(Boolean.TRUE.equals(search.get("met")) ? "constraints met" : "<b>no candidate met the constraints</b>")
                    .append(String.format(Locale.ROOT, " &middot; %s candidates, %s rounds, %.1f s of a %.0f s budget</p>",
                            list(search.get("candidates")).size(), search.get("rounds"), number(search.get("elapsed_s")),
                            number(search.get("budget_s"))));
        }
        summary(html, report, search);
        if (!search.isEmpty()) {
            SearchSection.pareto(html, search);
            SearchSection.sensitivity(html, map(search.get("sensitivity")));
        }
        layers(html, report);
        sizes(html, report);
        if (!search.isEmpty()) {
            SearchSection.candidates(html, search);
        }
        return html.append("</body></html>").toString();
    }

    private static void summary(StringBuilder html, Map<String, Object> report, Map<String, Object> search) {
        Map<String, Object> evaluation = map(report.get("evaluation"));
        html.append("<h2>Before and after</h2>");
        if (report.containsKey("original_bytes")) {
            html.append("<table id=\"summary\"><tr><th class=\"text\"></th><th>original</th><th>compressed</th></tr>");
            row(html, "size (bytes)", report.get("original_bytes"), report.get("compressed_bytes"));
            row(html, "parameters", report.get("original_params"), report.get("params"));
            row(html, "non-zero parameters", report.get("original_nonzero_params"), report.get("nonzero_params"));
            row(html, "MACs", report.get("original_macs"), report.get("macs"));
            if (evaluation.containsKey("accuracy_after")) {
                row(html, "accuracy", evaluation.get("accuracy_before"), evaluation.get("accuracy_after"));
            }
            row(html, "latency (ms, median of single samples)", evaluation.get("latency_ms_before"), evaluation.get("latency_ms_after"));
            html.append("</table><p class=\"note\">")
                    .append(String.format(Locale.ROOT, "%.2fx smaller", number(report.get("ratio"))));
            if (evaluation.containsKey("sqnr_db")) {
                html.append(String.format(Locale.ROOT, "; top-1 agreement %.4f, output SQNR %.1f dB on %s samples (%s)",
                        number(evaluation.get("top1_agreement")), number(evaluation.get("sqnr_db")), evaluation.get("samples"),
                        Html.escape(evaluation.get("data"))));
            }
            if (!search.isEmpty() && map(search.get("best")).containsKey("pipeline")) {
                html.append("<br>chosen pipeline: <code>").append(Html.escape(map(search.get("best")).get("pipeline"))).append("</code>");
            }
            html.append("</p>");
        } else {
            html.append("<p class=\"note\">No candidate completed, so there is no model to describe.</p>");
        }
    }

    /** Per-layer sparsity, bits and rank of the model, from each step's own report. */
    private static void layers(StringBuilder html, Map<String, Object> report) {
        List<String> rows = new ArrayList<>();
        List<String> labels = new ArrayList<>();
        List<Double> sparsities = new ArrayList<>();
        for (Object step : list(report.get("steps"))) {
            Map<String, Object> stepMap = map(step);
            String technique = String.valueOf(stepMap.get("technique"));
            for (Object layer : list(map(stepMap.get("report")).get("layers"))) {
                Map<String, Object> entry = map(layer);
                String name = String.valueOf(entry.getOrDefault("name", entry.get("weight")));
                String setting = entry.containsKey("sparsity") ? String.format(Locale.ROOT, "sparsity %.3f", number(entry.get("sparsity")))
                        : entry.containsKey("rank") ? "rank " + entry.get("rank") + " of " + entry.get("max_rank")
                        : entry.containsKey("bits") ? entry.get("bits") + " bits"
                        : String.valueOf(entry.getOrDefault("status", entry.getOrDefault("reason", "")));
                rows.add("<tr><td class=\"text\">" + stepMap.get("step") + ". " + Html.escape(technique) + "</td><td class=\"text\">"
                        + Html.escape(name) + "</td><td class=\"text\">" + Html.escape(setting) + "</td></tr>");
                if (entry.containsKey("sparsity")) {
                    labels.add(name);
                    sparsities.add(number(entry.get("sparsity")));
                }
            }
        }
        if (rows.isEmpty()) {
            return;
        }
        html.append("<h2>Per layer</h2><div class=\"charts\">");
        if (!labels.isEmpty()) {
            html.append(Svg.bars("layer-sparsity", "sparsity of each pruned layer", labels, sparsities));
        }
        html.append("</div><table id=\"layers\"><tr><th class=\"text\">step</th><th class=\"text\">layer</th>"
                + "<th class=\"text\">setting</th></tr>").append(String.join("", rows)).append("</table>");
    }

    /** Model size before the first step and after each one. */
    private static void sizes(StringBuilder html, Map<String, Object> report) {
        List<Object> steps = list(report.get("steps"));
        if (steps.isEmpty() || !report.containsKey("original_bytes")) {
            return;
        }
        List<String> labels = new ArrayList<>(List.of("original"));
        List<Double> bytes = new ArrayList<>(List.of(number(report.get("original_bytes"))));
        for (Object step : steps) {
            Map<String, Object> stepMap = map(step);
            labels.add(stepMap.get("step") + ". " + stepMap.get("technique"));
            bytes.add(number(stepMap.get("bytes_out")));
        }
        html.append("<h2>Size after each step</h2><div class=\"charts\">").append(Svg.bars("size-breakdown", "bytes", labels, bytes))
                .append("</div>");
    }

    static void row(StringBuilder html, String label, Object before, Object after) {
        html.append("<tr><td class=\"text\">").append(Html.escape(label)).append("</td><td>").append(Svg.number(number(before)))
                .append("</td><td>").append(Svg.number(number(after))).append("</td></tr>");
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> map(Object value) {
        return value instanceof Map<?, ?> map ? (Map<String, Object>) map : Map.of();
    }

    @SuppressWarnings("unchecked")
    static List<Object> list(Object value) {
        return value instanceof List<?> list ? (List<Object>) list : List.of();
    }

    static double number(Object value) {
        return value instanceof Number number ? number.doubleValue() : Double.NaN;
    }
}
